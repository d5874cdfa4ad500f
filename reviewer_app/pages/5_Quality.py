"""Quality (admin): the index at the top, drill-down below, the responses behind any light."""

from __future__ import annotations

import streamlit as st
from views import admin, ui
from views import watch as vm

from evalkit.records import utcnow

st.set_page_config(page_title="Quality · evalkit", page_icon=":material/monitoring:", layout="wide")
session = ui.require_session("Quality")
db = ui.database()


@st.cache_resource(ttl=300, show_spinner="Computing the quality index…")
def _index(store_url: str, data_dir: str) -> vm.QualityIndex:
    # every click reruns the page; the index (rules, drift, embeddings) is computed once in 5 min
    return vm.quality_index(ui.database(), ui.settings())


settings = ui.settings()
index = _index(settings.resolved_database_url, str(settings.data_dir))
view = index.view
queue = admin.overview(admin.status(db, session.reviewer, now=utcnow()))

st.title("Quality index")
st.caption(
    f"As of {view.run.at:%Y-%m-%d %H:%M} UTC. Rates from final human labels of probability "
    "samples, weighted by inclusion probability, with 95% intervals."
)
for note in index.notes:
    st.text(f"Sampled: {note}")
cols = st.columns(4)
cols[0].metric("Red lights", len(index.red))
cols[1].metric("Open alerts", len(view.alerts))
cols[2].metric("Review queue: overdue (SLA)", queue.overdue)
cols[3].metric("Review queue: open items", queue.open_items)
st.image(view.charts.get("lights", ""), caption="Lights per model and KPI (hover for why)")

st.subheader("Red and yellow lights")
focus = st.session_state.get(vm.FOCUS)
for light in view.lights.loc[view.lights["state"].isin(["red", "yellow"])].itertuples():
    icon = "🔴" if light.state == "red" else "🟡"
    label = vm.plain(f"{light.rule} · {light.by}={light.cell}")
    if st.button(f"{icon} {label}", key=f"light-{light.key}", help=vm.plain(light.reason)):
        st.session_state[vm.FOCUS] = focus = light.key
        st.session_state.pop(vm.DRILL, None)
    st.caption(vm.plain(f"{light.reason} → {light.action} ({light.owner or 'no owner'})"))

st.subheader("Drill-down")
left, middle, right = st.columns(3)
metric = left.selectbox("Rate", list(vm.DRILL_METRICS))
dimension = middle.selectbox("By", list(vm.DRILL_DIMENSIONS))
days = right.selectbox("Window", vm.DRILL_WINDOWS, format_func=lambda d: f"last {d} days")
drill = vm.drill_down(index, metric, dimension, days=days)
st.image(drill.chart)
st.caption("Choose a value to see the responses behind its number.")
for i, cell in enumerate(drill.cells):
    if st.button(drill.label(cell), key=f"drill-{metric}-{dimension}-{days}-{i}"):
        st.session_state[vm.DRILL] = (metric, dimension, days, cell)
        st.session_state.pop(vm.FOCUS, None)
        focus = None
chosen_drill = st.session_state.get(vm.DRILL)

with st.expander("Per rule"):
    rule_names = [name for name in view.charts if name.startswith("rule:")]
    chosen = st.selectbox("Rule", rule_names, format_func=lambda n: n.removeprefix("rule:"))
    if chosen:
        st.image(view.charts[chosen])
st.subheader("Over time")
for name in ("hallucination_by_version", "harm_by_version", "psi_prompt_by_intent"):
    st.image(view.charts[name])

st.subheader("Responses behind the number")
if focus is not None:
    title, order = focus, "labelled positives first"
    shown = vm.examples(db, index, focus)
elif chosen_drill is not None:
    d_metric, d_dimension, d_days, d_cell = chosen_drill
    title = f"{d_metric} · {d_dimension}={d_cell} · last {d_days} days"
    order = "the ones the rate counts first"
    shown = vm.drill_examples(db, index, vm.drill_down(index, d_metric, d_dimension, days=d_days),
                              d_cell)  # fmt: skip
else:
    shown = None
if shown is None:
    st.info("Choose a red or yellow light, or a value of the drill-down, to see its responses.")
else:
    st.text(f"{title}: {len(shown)} responses, {order}")
    st.dataframe(shown.drop(columns=["prompt", "response"]), hide_index=True)
    for row in shown.itertuples():
        with st.expander(vm.plain(f"{row.id} · label {getattr(row, 'label_positive', '–')}")):
            st.caption("Prompt")
            ui.show_untrusted(row.prompt)
            st.caption("Response")
            ui.show_untrusted(row.response)
