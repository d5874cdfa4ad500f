"""The few Streamlit helpers every page shares: the store handle, the login guard, and the one
way untrusted text reaches the screen.

This is the only module of ``views`` that imports Streamlit; the rest are plain functions the
tests call directly.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from evalkit.errors import EvalkitError
from evalkit.records import utcnow
from evalkit.settings import Settings, load_settings
from evalkit.store.database import Database
from views import label, state
from views.session import AppSession, logout, may_open, resume
from views.text import segments


@st.cache_resource(show_spinner=False)
def _open(url: str) -> Database:
    return Database.open(url)


def settings() -> Settings:
    """The app's settings: ``EVALKIT_*`` from the environment, as every evalkit entry point."""
    return load_settings()


def database() -> Database:
    """One store handle (connection pool) per store URL for the whole server process."""
    return _open(settings().resolved_database_url)


def current_session() -> AppSession | None:
    found = st.session_state.get(state.SESSION)
    return found if isinstance(found, AppSession) else None


def live_session() -> AppSession | None:
    """The logged-in reviewer, looked up again in the store; None when logged out.

    The token is resolved on every run, on whichever page the reviewer is, so nothing acts for
    a login past ``EVALKIT_APP_SESSION_MINUTES``, after a logout in another tab, or for a
    deactivated account; the item in hand is then given back.
    """
    session = current_session()
    if session is None:
        return None
    resumed = resume(database(), session)
    if resumed is None:
        _give_back(session)
        end_session("Your session has ended: log in again.")
        return None
    st.session_state[state.SESSION] = resumed
    return resumed


def require_session(page: str) -> AppSession:
    """The logged-in reviewer allowed on ``page``; otherwise a message and the page stops."""
    session = live_session()
    if session is None:
        st.warning("Log in first.")
        st.page_link("Home.py", label="Log in", icon=":material/login:")
        st.stop()
    assert session is not None
    if not may_open(session, page):
        st.error(f"The {page} page is not open to the {session.role} role.")
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {session.display_name} ({session.role})")
    return session


def _give_back(session: AppSession) -> None:
    """Release the item in hand, so it does not sit leased to someone who has left."""
    current = st.session_state.get(state.CURRENT_ITEM)
    if current is not None:
        with contextlib.suppress(EvalkitError):
            label.skip(database(), session.reviewer, current, now=utcnow())


def log_out() -> None:
    """End the session in the store (the token stops working) and in the browser."""
    session = current_session()
    if session is not None:
        _give_back(session)
        logout(database(), session)
    end_session("Logged out.")


def end_session(notice: str | None = None) -> None:
    """Log out: forget everything of this reviewer in the browser session."""
    for key in list(st.session_state.keys()):
        if str(key).startswith("evalkit."):
            del st.session_state[key]
    if notice:
        st.session_state[state.LOGIN_NOTICE] = notice


def show_untrusted(text: str | None, *, empty: str = "(empty)") -> None:
    """Show prompt, context or model output without ever interpreting it as Markdown or HTML."""
    parts = segments(text)
    if not parts:
        st.caption(empty)
    for part in parts:
        if part.kind == "code":
            st.code(part.body, language=part.language, wrap_lines=True)
        else:
            st.text(part.body, width="stretch")
