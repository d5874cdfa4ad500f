"""Judge alignment: how well an automated check agrees with what humans decided.

Before a check gates a deploy, run it over responses people reviewed and compare: the check
*flags* a response when its assertion fails, humans flag it when the final label of ``head`` is
positive (hallucinated, harmful, impolite). Reported: the confusion matrix, precision and recall
with Wilson intervals, accuracy, and Cohen's kappa with an interval. Responses the check could
not judge (skipped, errored) and final labels without a decision are counted and left out —
never counted as agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import UsageError
from evalkit.gate.evaluate import RunOptions, evaluate
from evalkit.gate.outputs import CandidateOutput
from evalkit.gate.registry import AssertSpec, SpecError, validate_spec
from evalkit.gate.stats import Confusion, kappa_interval, wilson_interval
from evalkit.gate.suite import Case, Suite

if TYPE_CHECKING:
    from evalkit.store.database import Database


@dataclass(frozen=True)
class Alignment:
    spec: str
    head: str
    confusion: Confusion
    #: reviewed responses the check could not judge (skipped or errored)
    unjudged: int
    #: final labels without a decision (unsure, unresolved disagreement)
    undecided: int
    #: up to 10 (response id, judge flagged, humans flagged) disagreements, for a look
    disagreements: tuple[tuple[str, bool, bool], ...]

    def as_dict(self) -> dict[str, Any]:
        c = self.confusion
        precision_ci = wilson_interval(c.tp, c.tp + c.fp) if c.tp + c.fp else None
        recall_ci = wilson_interval(c.tp, c.tp + c.fn) if c.tp + c.fn else None
        return {
            "assert": self.spec,
            "head": self.head,
            "n": c.n,
            "confusion": {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn},
            "precision": c.precision(),
            "precision_95ci": precision_ci,
            "recall": c.recall(),
            "recall_95ci": recall_ci,
            "accuracy": c.accuracy(),
            "kappa": c.kappa(),
            "kappa_95ci": kappa_interval(c),
            "unjudged": self.unjudged,
            "undecided": self.undecided,
            "disagreements": [
                {"response_id": r, "judge_flagged": j, "humans_flagged": h}
                for r, j, h in self.disagreements
            ],
        }


def parse_spec(text: str, threshold: float | None = None) -> AssertSpec:
    """A check from the command line: a type alone (``refusal``, ``deepeval:ExactMatchMetric``)
    or a mapping in YAML or JSON when it needs a value: ``{type: regex, value: "(?i)sorry"}``."""
    import yaml

    raw: Any = text
    if text.lstrip().startswith("{"):
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--assert {text!r}: not a valid mapping: {exc}") from None
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise UsageError(f"--assert {text!r}: expected a type or {{type, value, threshold}}")
    try:
        return validate_spec(raw["type"], raw.get("value"), raw.get("threshold", threshold))
    except SpecError as exc:
        raise UsageError(f"--assert {text!r}: {exc.field}: {exc}") from None


def align(
    db: Database,
    spec: AssertSpec,
    head: str,
    *,
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    options: RunOptions | None = None,
) -> Alignment:
    """Run ``spec`` over every response with a final label of ``head`` and compare."""
    from evalkit.review import final_labels
    from evalkit.store.gate_runs import responses_by_id

    finals = final_labels(db, head, tenant=tenant, since=since, until=until)
    decided = [f for f in finals if f.positive is not None]
    if limit is not None:
        decided = decided[:limit]
    responses = responses_by_id(db, [f.response_id for f in decided])
    decided = [f for f in decided if f.response_id in responses]
    if not decided:
        raise UsageError(
            f"no reviewed response has a final {head!r} label"
            + (" in that window" if since or until or tenant else "")
            + ": review some first (or import a labelled dataset)"
        )
    cases, outputs = [], {}
    for final in decided:
        r = responses[final.response_id]
        cases.append(Case(id=r.id, prompt=r.prompt, context=r.context, asserts=(spec,)))
        outputs[r.id] = [CandidateOutput(r.id, r.response, r.latency_ms)]
    suite = Suite(name=f"align-{head}", path=Path("<reviewed responses>"), cases=tuple(cases))
    results = evaluate(suite, outputs, source="the store", options=options)
    humans = {f.response_id: bool(f.positive) for f in decided}
    tp = fp = fn = tn = unjudged = 0
    disagreements: list[tuple[str, bool, bool]] = []
    for result in results:
        if result.verdict is None or result.runs[0].assertions[0].outcome.status == "error":
            unjudged += 1
            continue
        flagged, truth = not result.verdict, humans[result.case.id]
        tp += flagged and truth
        fp += flagged and not truth
        fn += truth and not flagged
        tn += not flagged and not truth
        if flagged != truth and len(disagreements) < 10:
            disagreements.append((result.case.id, flagged, truth))
    return Alignment(
        spec=spec.describe(),
        head=head,
        confusion=Confusion(tp=tp, fp=fp, fn=fn, tn=tn),
        unjudged=unjudged,
        undecided=len(finals) - len([f for f in finals if f.positive is not None]),
        disagreements=tuple(disagreements),
    )


def describe(alignment: Alignment) -> Sequence[str]:
    """Plain lines for the console: the matrix and each statistic with its interval."""
    d = alignment.as_dict()
    c = d["confusion"]

    def pct(value: float | None, ci: Any = None) -> str:
        if value is None:
            return "–"
        return f"{value:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")

    return [
        f"{d['assert']} vs human '{d['head']}' on {d['n']:,} reviewed responses",
        "                 humans: flagged   not flagged",
        f"  check flagged       {c['tp']:>8,}   {c['fp']:>11,}",
        f"  check passed        {c['fn']:>8,}   {c['tn']:>11,}",
        f"precision {pct(d['precision'], d['precision_95ci'])}",
        f"recall    {pct(d['recall'], d['recall_95ci'])}",
        f"accuracy  {pct(d['accuracy'])}",
        f"kappa     {pct(d['kappa'], d['kappa_95ci'])}",
        f"not judged by the check: {d['unjudged']:,}; no human decision: {d['undecided']:,}",
    ]
