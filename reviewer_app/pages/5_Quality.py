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
cols = st.columns(4)
cols[0].metric("Red lights", len(index.red))
cols[1].metric("Open alerts", len(view.alerts))
cols[2].metric("Review queue: overdue (SLA)", queue.overdue)
cols[3].metric("Review queue: open items", queue.open_items)
st.image(view.charts.get("lights", ""), caption="Lights per model and KPI (hover for why)")

st.subheader("Red and yellow lights")
focus = st.session_state.get("evalkit.watch.focus")
for light in view.lights.loc[view.lights["state"].isin(["red", "yellow"])].itertuples():
    label = f"{'🔴' if light.state == 'red' else '🟡'} {light.rule} · {light.by}={light.cell}"
    if st.button(label, key=f"light-{light.key}", help=light.reason):
        st.session_state["evalkit.watch.focus"] = focus = light.key
    st.caption(f"{light.reason} → {light.action} ({light.owner or 'no owner'})")

st.subheader("Drill-down")
rule_names = [name for name in view.charts if name.startswith("rule:")]
chosen = st.selectbox("Rule", rule_names, format_func=lambda n: n.removeprefix("rule:"))
if chosen:
    st.image(view.charts[chosen])
st.subheader("Over time")
for name in ("hallucination_by_version", "harm_by_version", "psi_prompt_by_intent"):
    st.image(view.charts[name])

st.subheader("Responses behind the light")
if focus is None:
    st.info("Choose a red or yellow light above to see the responses that made it.")
else:
    shown = vm.examples(db, index, focus)
    st.write(f"**{focus}**: {len(shown)} responses, labelled positives first")
    st.dataframe(shown.drop(columns=["prompt", "response"]), hide_index=True)
    for row in shown.itertuples():
        with st.expander(f"{row.id} · label {getattr(row, 'label_positive', '–')}"):
            st.caption("Prompt")
            ui.show_untrusted(row.prompt)
            st.caption("Response")
            ui.show_untrusted(row.response)
