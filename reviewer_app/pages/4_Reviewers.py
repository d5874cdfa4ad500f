"""Reviewers (admin): throughput and seconds per item, per reviewer."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from views import admin, ui

st.set_page_config(page_title="Reviewers · evalkit", page_icon=":material/group:", layout="wide")
session = ui.require_session("Reviewers")
status = admin.status(ui.database(), session.reviewer, now=datetime.now(UTC))
work = admin.reviewer_work(status)

st.title("Reviewers")
if work.empty:
    st.info("Nobody has reviewed anything yet.")
    st.stop()
left, right = st.columns(2)
with left:
    st.subheader("Items submitted")
    st.bar_chart(work, x="reviewer", y=["submitted", "skipped"], stack=True)
with right:
    st.subheader("Seconds per item")
    st.bar_chart(work.dropna(subset=["seconds per item"]), x="reviewer", y="seconds per item")
st.table(work.set_index("reviewer"))
