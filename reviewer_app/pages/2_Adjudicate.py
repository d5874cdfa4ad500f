"""Adjudicate: a disagreement side by side; 1, 2, … takes that reviewer's answer, Escape passes."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from views import adjudicate, state, ui

from evalkit.errors import EvalkitError

st.set_page_config(page_title="Adjudicate · evalkit", page_icon=":material/gavel:", layout="wide")
session = ui.require_session("Adjudicate")
db = ui.database()
me = session.reviewer

st.title("Adjudicate")
notice = st.session_state.pop(state.ADJUDICATION_NOTICE, None)
if notice:
    st.toast(notice)

passed: list[int] = st.session_state.setdefault(state.ADJUDICATION_PASSED, [])
open_items = adjudicate.open_disputes(db, me, passed=passed)
if not open_items:
    st.success("No disagreements waiting.")
    st.stop()
dispute = adjudicate.side_by_side(open_items[0])
item = dispute.item
picks: dict[str, str] = st.session_state.setdefault(state.adjudication_picks(item.item_id), {})
st.caption(f"item {item.item_id} · {len(open_items)} disputed · {len(dispute.columns)} reviewers")


def _settle(labels: dict) -> None:
    try:
        adjudicate.settle(db, me, dispute, labels)
    except EvalkitError as exc:
        st.error(str(exc))
        return
    st.session_state[state.ADJUDICATION_NOTICE] = f"Item {item.item_id} settled."
    st.rerun()


left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("Prompt")
    ui.show_untrusted(item.response.prompt)
    if item.response.context:
        with st.expander("Context"):
            ui.show_untrusted(item.response.context)
    st.subheader("Response")
    with st.container(border=True):
        ui.show_untrusted(item.response.response)

with right:
    st.subheader("Answers")
    table = pd.DataFrame(
        [[*(v or "–" for v in r.values), "≠" if r.disagree else ""] for r in dispute.rows],
        index=[r.label for r in dispute.rows],
        columns=[*(f"{c.letter} ({c.annotator})" for c in dispute.columns), "disagree"],
    )
    st.table(table)
    with st.container(horizontal=True):
        for column in dispute.columns:
            if st.button(
                f"Take {column.letter}'s answer",
                key=f"{state.ADJUDICATION_PREFIX}take.{item.item_id}.{column.letter}",
                shortcut=column.key,
                type="primary",
            ):
                _settle(adjudicate.settlement(dispute, {}, column))
    st.caption("Or settle each disagreeing head yourself:")
    for row in dispute.rows:
        if not row.disagree:
            continue
        st.markdown(f"**{row.label}**")
        choice = st.segmented_control(
            row.label,
            adjudicate.options(row.head),
            default=picks.get(row.head),
            key=f"{state.ADJUDICATION_PREFIX}pick.{item.item_id}.{row.head}",
            label_visibility="collapsed",
        )
        if choice:
            picks[row.head] = choice
        else:
            picks.pop(row.head, None)
    todo = adjudicate.unsettled(dispute, picks)
    submit_col, pass_col = st.columns(2)
    if submit_col.button(
        "Settle with my picks",
        shortcut=adjudicate.SUBMIT_KEY,
        disabled=bool(todo),
        width="stretch",
    ):
        _settle(adjudicate.settlement(dispute, picks))
    if pass_col.button("Pass for now", shortcut=adjudicate.NEXT_KEY, width="stretch"):
        passed.append(item.item_id)
        st.rerun()
