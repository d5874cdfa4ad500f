"""Queue (admin): how much is waiting, what is overdue, where items stand."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from views import admin, ui

st.set_page_config(page_title="Queue · evalkit", page_icon=":material/queue:", layout="wide")
session = ui.require_session("Queue")
now = datetime.now(UTC)
status = admin.status(ui.database(), session.reviewer, now=now)
head = admin.overview(status)

st.title("Queue")
cols = st.columns(5)
cols[0].metric("Open items", head.open_items)
cols[1].metric("In progress", head.in_progress)
cols[2].metric("SLA breaches (overdue)", head.overdue)
cols[3].metric("Disputed", head.disputed)
cols[4].metric("Gold items", head.gold)
if head.oldest_due_at is not None and head.overdue:
    st.error(f"Oldest overdue item was due {head.oldest_due_at:%Y-%m-%d %H:%M} UTC.")

st.subheader("Items by status")
st.bar_chart(admin.status_counts(status), x="status", y="items", horizontal=True)
