"""The Quality page's drill-down: a rate per model, version, intent or cohort with intervals,
and one click from a number to the responses behind it (view model directly, page by AppTest).

The store is the watch tests' labelled demo store (``tests/watch/demo_store.py``): 2,000
responses, a stratified review sample with unequal fractions, a targeted risk stream that must
not enter a rate, and a malicious response in the regressing version swift-mini-0.9.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest
from views import session, state
from views import watch as vm

from evalkit.review import add_reviewer
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.watch.data import is_refusal
from evalkit.watch.estimate import rates_by
from tests.reviewer_app.conftest import APP_DIR, PASSWORD
from tests.watch.demo_store import MALICIOUS, build

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
RULES = Path(__file__).resolve().parents[2] / "evalkit" / "demo" / "watch_rules.yaml"


@pytest.fixture(scope="module")
def quality(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("quality")
    # the embedding rule would load MiniLM; the drill-down does not depend on it
    spec = yaml.safe_load(RULES.read_text())
    spec["rules"] = [r for r in spec["rules"] if r["metric"] != "embedding_drift"]
    rules = tmp / "rules.yaml"
    rules.write_text(yaml.safe_dump(spec))
    settings = Settings(data_dir=tmp / "data", watch_rules=rules, _env_file=None)  # type: ignore[call-arg]
    db = Database.open(settings.resolved_database_url)
    build(db, settings, tmp / "demo")
    add_reviewer(db, "root", role="admin", password=PASSWORD)
    add_reviewer(db, "ann", password=PASSWORD)
    index = vm.quality_index(db, settings)
    yield {"db": db, "settings": settings, "index": index, "rules": rules}
    db.dispose()


def test_rates_per_model_version_with_intervals_from_the_probability_sample(quality):
    index = quality["index"]
    drill = vm.drill_down(index, "hallucination rate", "model version", days=14)
    at = index.view.run.at
    sample = index.data.window(at - timedelta(days=14), at).sample("hallucination")
    expected = rates_by(sample, "model_version").set_index("model_version")
    table = drill.table.set_index("cell")
    assert set(table.index) == set(index.data.traffic["model_version"].astype(str))
    for version, row in expected.iterrows():
        got = table.loc[version]
        assert got["value"] == pytest.approx(row["estimate"])
        assert (got["low"], got["high"]) == pytest.approx((row["low"], row["high"]))
        assert got["low"] <= got["value"] <= got["high"] and got["n"] == row["n"]
    # the regressing version comes first (largest rate), and the chart names it
    assert drill.cells[0] == "swift-mini-0.9.5"
    assert "swift-mini-0.9.5" in drill.chart and drill.chart.startswith("<svg")
    label = drill.label("swift-mini-0.9.5")
    assert label.startswith("swift\\-mini\\-0\\.9\\.5 · ") and "labelled" in label


@pytest.mark.parametrize(
    ("dimension", "column"),
    [
        ("model", "model_id"),
        ("intent", "intent"),
        ("user segment", "user_segment"),
        ("tenant", "tenant"),
    ],
)
def test_every_dimension_splits_the_window_into_its_values(quality, dimension, column):
    index = quality["index"]
    at = index.view.run.at
    window = index.data.window(at - timedelta(days=7), at).traffic
    drill = vm.drill_down(index, "guard flag rate", dimension, days=7)
    assert sorted(drill.cells) == sorted(window[column].fillna("∅").astype(str).unique())
    assert drill.table["exposure"].sum() == len(window)


def test_refusal_rate_per_segment_counts_the_gates_refusal_markers(quality):
    db, index = quality["db"], quality["index"]
    at = index.view.run.at
    window = index.data.window(at - timedelta(days=7), at).traffic
    drill = vm.drill_down(index, "refusal rate", "user segment", days=7)
    from evalkit.store import watch as store

    texts = store.texts(db, window["id"].tolist()).set_index("id")["response"]
    refused = window["id"].map(texts).map(is_refusal)
    truth = refused.groupby(window["user_segment"].astype(str)).mean()
    table = drill.table.set_index("cell")
    for segment, share in truth.items():
        assert table.loc[segment, "value"] == pytest.approx(share)


def test_the_responses_behind_a_number_are_that_cells_labelled_positives_first(quality):
    db, index = quality["db"], quality["index"]
    drill = vm.drill_down(index, "hallucination rate", "model version", days=7)
    shown = vm.drill_examples(db, index, drill, "swift-mini-0.9.5", limit=50)
    assert len(shown) and set(shown["model_version"]) == {"swift-mini-0.9.5"}
    # only the probability sample is behind a rate: no risk-stream item among them
    assert set(shown["strategy"]) <= {"stratified"}
    labels = shown["label_positive"].tolist()
    assert labels == sorted(labels, reverse=True) and labels[0] == 1.0
    assert MALICIOUS in shown["response"].tolist()


def test_plain_escapes_markdown_of_captured_names():
    name = "[click](javascript:alert(1)) **bold** :red[x] <b>"
    escaped = vm.plain(name)
    assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in escaped
    assert "\\*\\*bold\\*\\*" in escaped and "\\:red\\[x\\]" in escaped and "\\<b\\>" in escaped


def _page(quality, monkeypatch) -> AppTest:
    settings = quality["settings"]
    monkeypatch.setenv("EVALKIT_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("EVALKIT_WATCH_RULES", str(quality["rules"]))
    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=180)
    at.session_state[state.SESSION] = session.login(quality["db"], "root", PASSWORD, minutes=5)
    at.switch_page("pages/5_Quality.py")
    return at.run()


def test_the_page_drills_down_to_the_responses_behind_a_number(quality, monkeypatch):
    at = _page(quality, monkeypatch)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Quality index"]
    by = next(s for s in at.selectbox if s.label == "By")
    by.select("model version").run()
    assert not at.exception, at.exception
    drill = vm.drill_down(quality["index"], "hallucination rate", "model version", days=7)
    wanted = drill.label("swift-mini-0.9.5")
    labels = [b.label for b in at.button]
    assert [label for label in labels if label in {drill.label(c) for c in drill.cells}] == [
        drill.label(c) for c in drill.cells
    ]
    # one click on the number: its responses, their texts shown as text
    next(b for b in at.button if b.label == wanted).click().run()
    assert not at.exception, at.exception
    heading = [t.value for t in at.text if "the ones the rate counts first" in t.value]
    assert heading and heading[0].startswith("hallucination rate · model version=swift-mini-0.9.5")
    assert at.dataframe[0].value["model_version"].eq("swift-mini-0.9.5").all()
    assert any(MALICIOUS in t.value for t in at.text)
    rendered = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("<script>" in value for value in rendered)


def test_the_page_is_for_admins_only(quality, monkeypatch):
    settings = quality["settings"]
    monkeypatch.setenv("EVALKIT_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=60)
    at.session_state[state.SESSION] = session.login(quality["db"], "ann", PASSWORD, minutes=5)
    at.switch_page("pages/5_Quality.py").run()
    assert [e.value for e in at.error] == ["The Quality page is not open to the reviewer role."]
    assert not at.title and not at.button
