"""Reviewers (admin): throughput, seconds per item, agreement (κ, α) and gold accuracy."""

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

report = admin.agreement(ui.database())
st.header("Agreement")
alpha, kappa = admin.alpha_per_field(report), admin.kappa_per_pair(report)
quality = admin.accuracy_per_reviewer(report)
if alpha.empty and kappa.empty:
    st.info("No overlap items with two or more reviews yet: agreement needs them.")
left, right = st.columns(2)
if not alpha.empty:
    left.subheader("Krippendorff's α per field")
    left.bar_chart(alpha, x="field", y="alpha")
if not kappa.empty:
    right.subheader("Cohen's κ per reviewer pair")
    right.bar_chart(kappa, x="pair", y="kappa", color="field", stack=False)
st.subheader("Agreement with consensus and gold accuracy")
shares = quality.dropna(subset=["with consensus", "gold accuracy"], how="all")
if shares.empty:
    st.info("No overlap or gold answers yet.")
else:
    st.bar_chart(shares, x="reviewer", y=["with consensus", "gold accuracy"], stack=False)
st.table(quality.set_index("reviewer"))
