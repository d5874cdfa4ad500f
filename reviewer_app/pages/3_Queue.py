"""Queue (admin): how much is waiting, what is overdue, where items stand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

db, viewer = ui.database(), session.reviewer

st.subheader("Queue depth by priority, strategy and stratum")
depth = admin.depth(db, viewer, now=now)
if depth.empty:
    st.caption("Nothing is waiting.")
else:
    st.bar_chart(depth, x="cell", y=["open", "overdue"], horizontal=True, stack=False)

bucket = st.radio(
    "Period",
    ["hour", "day"],
    horizontal=True,
    format_func={"hour": "last 24 hours, per hour", "day": "last 14 days, per day"}.get,
)
since = now - (timedelta(hours=24) if bucket == "hour" else timedelta(days=14))

st.subheader("SLA breaches")
late = admin.breaches(db, viewer, since=since, now=now)
if late.empty:
    st.caption("No item missed its due time in this period.")
else:
    st.bar_chart(late, x="item", y="hours late")
    st.dataframe(late, hide_index=True)

st.subheader("Throughput per reviewer")
work = admin.throughput(db, viewer, since=since, until=now, bucket=bucket)
if work.empty:
    st.caption("No reviews were submitted in this period.")
else:
    st.bar_chart(work, x="bucket start", y="submitted", color="reviewer")
    st.line_chart(work, x="bucket start", y="median seconds", color="reviewer")
