"""Label: one item at a time, every answer on one key, Enter to submit, Escape to skip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st
from views import form, label, state, ui

from evalkit.errors import EvalkitError, UsageError
from evalkit.review.types import LeaseLost

st.set_page_config(page_title="Label · evalkit", page_icon=":material/label:", layout="wide")
session = ui.require_session("Label")
db = ui.database()
reviewer = session.reviewer


def _now() -> datetime:
    return datetime.now(UTC)


def _drop_current(notice: str | None = None) -> None:
    st.session_state.pop(state.CURRENT_ITEM, None)
    st.session_state[state.CHOICES] = {}
    if notice:
        st.session_state[state.LABEL_NOTICE] = notice


def _press(target: str, value: str) -> None:
    st.session_state[state.CHOICES] = form.press(
        st.session_state.get(state.CHOICES, {}), target, value
    )


st.title("Label")
notice = st.session_state.pop(state.LABEL_NOTICE, None)
if notice:
    st.toast(notice)

current: label.Current | None = st.session_state.get(state.CURRENT_ITEM)
if current is None:
    current = label.next_item(db, reviewer, now=_now())
    if current is None:
        st.success("Nothing left to review for you right now.")
        st.caption(
            label.progress_line(
                st.session_state.get(state.LABELLED_COUNT, 0),
                st.session_state.get(state.SKIPPED_COUNT, 0),
                0,
            )
        )
        st.stop()
    st.session_state[state.CURRENT_ITEM] = current
    st.session_state[state.CHOICES] = {}
choices: dict[str, Any] = st.session_state.get(state.CHOICES, {})
item = current.item


@st.fragment(run_every=label.TICK_SECONDS)
def _status() -> None:
    """Renews the lease while the reviewer reads, and keeps the countdowns current."""
    if ui.live_session() is None:  # expired or logged out elsewhere while the page sat open
        st.rerun(scope="app")
    held: label.Current | None = st.session_state.get(state.CURRENT_ITEM)
    if held is None:
        return
    now = _now()
    try:
        held = label.keep_lease(db, reviewer, held, now=now)
    except LeaseLost:
        _drop_current("The lease on that item ran out and it went back to the queue.")
        st.rerun(scope="app")
    st.session_state[state.CURRENT_ITEM] = held
    cols = st.columns([2, 2, 3])
    cols[0].caption(
        label.progress_line(
            st.session_state.get(state.LABELLED_COUNT, 0),
            st.session_state.get(state.SKIPPED_COUNT, 0),
            label.remaining(db, reviewer, now=now),
        )
    )
    cols[1].caption(label.lease_line(held, now))
    countdown = label.sla(held.item.due_at, now)
    if countdown is not None:
        show = {"overdue": cols[2].error, "urgent": cols[2].warning, "ok": cols[2].info}
        show[countdown.level](countdown.text, icon=":material/timer:")


_status()

meta = [f"item {item.item_id}", item.strategy]
if item.stratum:
    meta.append(item.stratum)
if item.response.model_id:
    meta.append(item.response.model_id)
if item.priority:
    meta.append(f"priority {item.priority}")
st.caption(" · ".join(meta))

left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("Prompt")
    ui.show_untrusted(item.response.prompt)
    if item.response.context:
        with st.expander("Context", expanded=False):
            ui.show_untrusted(item.response.context)
    st.subheader("Response")
    with st.container(border=True):
        ui.show_untrusted(item.response.response)

texts: dict[str, str] = {}
with right:
    for head in form.head_forms(choices):
        st.markdown(f"**{head.label}**")
        st.caption(head.guideline)
        with st.container(horizontal=True):
            for button in head.choices:
                st.button(
                    button.label,
                    key=state.button_key(button.target, button.value),
                    shortcut=button.key,
                    type="primary" if button.selected else "secondary",
                    help=button.guideline or None,
                    on_click=_press,
                    args=(button.target, button.value),
                )
        for title, buttons in head.extras:
            if head.name == "harm" and choices.get("harm") in (None, "none"):
                continue  # the category only matters, and is only asked, when there is harm
            if len(buttons) > 1:
                st.caption(title)
            with st.container(horizontal=True):
                for button in buttons:
                    st.button(
                        button.label,
                        key=state.button_key(button.target, button.value),
                        shortcut=button.key,
                        type="primary" if button.selected else "tertiary",
                        help=button.guideline or None,
                        on_click=_press,
                        args=(button.target, button.value),
                    )
    with st.expander("Span, notes and correction (optional)"):
        named = [t for h in form.head_forms(choices) for t in h.texts] + form.general_texts()
        for name, title, guideline in named:
            texts[name] = st.text_input(
                title, key=state.text_key(item.item_id, name), help=guideline or None
            )

    todo = form.missing(choices)
    st.caption("Still to answer: " + ", ".join(todo) if todo else "Ready: press Enter to submit.")
    submit_col, skip_col = st.columns(2)
    submitted = submit_col.button(
        "Submit", shortcut=form.SUBMIT_KEY, type="primary", disabled=bool(todo), width="stretch"
    )
    skipped = skip_col.button("Skip", shortcut=form.SKIP_KEY, width="stretch")

if submitted:
    held = st.session_state.get(state.CURRENT_ITEM, current)
    try:
        label.submit(db, reviewer, held, choices, texts, now=_now())
    except UsageError as exc:
        st.error(str(exc))
    except LeaseLost:
        _drop_current("The lease on that item ran out before the submit; nothing was stored.")
        st.rerun()
    except EvalkitError as exc:
        st.error(str(exc))
    else:
        st.session_state[state.LABELLED_COUNT] = st.session_state.get(state.LABELLED_COUNT, 0) + 1
        _drop_current(f"Labels for item {item.item_id} stored.")
        st.rerun()
if skipped:
    label.skip(db, reviewer, st.session_state.get(state.CURRENT_ITEM, current), now=_now())
    st.session_state[state.SKIPPED_COUNT] = st.session_state.get(state.SKIPPED_COUNT, 0) + 1
    _drop_current(f"Item {item.item_id} skipped.")
    st.rerun()
