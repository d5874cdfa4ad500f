"""Reviewer app entry point: log in, then work.

Serve with ``streamlit run reviewer_app/Home.py`` (settings from ``EVALKIT_*`` as every evalkit
command). Typing the username, Tab, the password and Enter logs in and opens the page for the
reviewer's role, so the whole app works from the keyboard.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from views import state, ui
from views.session import login, remaining_text, start_page

st.set_page_config(page_title="evalkit review", page_icon=":material/rate_review:", layout="wide")

session = ui.live_session()
ui.navigation(session)
if session is None:
    st.title("evalkit review")
    notice = st.session_state.pop(state.LOGIN_NOTICE, None)
    if notice:
        st.info(notice)
    with st.form("login", enter_to_submit=True):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        settings = ui.settings()
        outcome = login(ui.database(), username, password, minutes=settings.app_session_minutes)
        if isinstance(outcome, str):
            st.error(outcome)
        else:
            st.session_state[state.SESSION] = outcome
            st.switch_page(start_page(outcome))
else:
    st.title(f"Hello, {session.display_name}")
    st.write(f"Role: **{session.role}** · {remaining_text(session, datetime.now(UTC))}")
    tenants = session.reviewer.tenants
    st.write("Tenants: " + (", ".join(tenants) if tenants is not None else "all"))
    for page, name in ui.allowed_pages(session):
        st.page_link(page, label=name)
    if st.button("Log out"):
        ui.log_out()
        st.rerun()
