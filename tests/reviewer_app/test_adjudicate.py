"""Adjudication: a disagreement side by side (view model and page), settled with one key."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from views import adjudicate, session, state

from evalkit.review import final_labels, get_reviewer
from tests.reviewer_app.conftest import APP_DIR, PASSWORD


def test_the_disagreement_reads_across_a_row(disputed):
    judy = get_reviewer(disputed, "judy")
    [item] = adjudicate.open_disputes(disputed, judy)
    dispute = adjudicate.side_by_side(item)
    assert [(c.letter, c.annotator, c.key) for c in dispute.columns] == [
        ("A", "ann", "1"),
        ("B", "bea", "2"),
    ]
    assert [(r.head, r.values, r.disagree) for r in dispute.rows] == [
        ("hallucination", ("yes", "no"), True),
        ("tone", ("polite", "polite"), False),
        ("harm", ("high", "none"), True),
    ]
    assert adjudicate.settlement(dispute, {}, dispute.columns[0]) == {
        "hallucination": {"value": "yes"},
        "tone": {"value": "polite"},
        "harm": {"value": "high", "category": "financial"},
    }
    picks = {"hallucination": "no"}
    assert adjudicate.unsettled(dispute, picks) == ["Harm"]
    picks["harm"] = "high"
    assert adjudicate.settlement(dispute, picks) == {
        "hallucination": {"value": "no"},
        "tone": {"value": "polite"},
        "harm": {"value": "high", "category": "financial"},
    }
    assert adjudicate.open_disputes(disputed, judy, passed=[item.item_id]) == []


def test_a_reviewer_may_not_open_the_page_and_one_key_settles(disputed):
    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=60)
    ann = session.login(disputed, "ann", PASSWORD, minutes=5)
    at.session_state[state.SESSION] = ann
    at.switch_page("pages/2_Adjudicate.py").run()
    assert [e.value for e in at.error] == ["The Adjudicate page is not open to the reviewer role."]

    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=60)
    at.session_state[state.SESSION] = session.login(disputed, "judy", PASSWORD, minutes=5)
    at.switch_page("pages/2_Adjudicate.py").run()
    assert not at.exception
    takes = {b.label: b.proto.shortcut for b in at.button if b.label.startswith("Take")}
    assert takes == {"Take A's answer": "1", "Take B's answer": "2"}
    next(b for b in at.button if b.label == "Take B's answer").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["No disagreements waiting."]
    finals = {f.response_id: (f.value, f.source) for f in final_labels(disputed, "hallucination")}
    assert finals["r-500"] == ("no", "adjudicated")
