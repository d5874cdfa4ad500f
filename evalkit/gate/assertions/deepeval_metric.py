"""``deepeval:<MetricName>``: any deepeval metric, with its threshold, as a gate assertion.

Deterministic metrics (``ExactMatchMetric``, ``PatternMatchMetric``) run offline. Every other
metric needs an LLM judge, which evalkit gives it only through an OpenAI-compatible endpoint
the run is configured with (``EVALKIT_JUDGE_BASE_URL`` and ``EVALKIT_JUDGE_MODEL``); without one
the check is skipped with that reason — never passed, and never left to hang looking for an
OpenAI key. deepeval is imported only by suites that use it (it takes seconds to import).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from evalkit.gate.registry import Check, Outcome, assertion, skipped, verdict

#: Metrics that compute their score without a model.
DETERMINISTIC = frozenset({"ExactMatchMetric", "PatternMatchMetric"})
#: Metrics that compare with the expected output: the case's ``reference``.
NEEDS_REFERENCE = frozenset({"ExactMatchMetric"})


def _metrics_module() -> Any:
    os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
    import deepeval.metrics

    return deepeval.metrics


def _prepare(name: str, value: Any) -> dict[str, Any]:
    """Check the metric exists and its options are a mapping (``ExactMatch`` is accepted)."""
    metrics = _metrics_module()
    metric = name if hasattr(metrics, name) or name == "GEval" else f"{name}Metric"
    if not hasattr(metrics, metric):
        raise ValueError(f"deepeval has no metric {name!r}")
    if metric == "PatternMatchMetric" and isinstance(value, str):
        value = {"pattern": value}
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"deepeval:{name} takes its options as a mapping (keyword arguments)")
    kwargs = dict(value or {})
    if metric == "PatternMatchMetric" and "pattern" not in kwargs:
        raise ValueError("deepeval:PatternMatchMetric needs value: the pattern")
    if metric == "GEval":
        kwargs.setdefault("name", kwargs.pop("label", "GEval"))
        if "criteria" not in kwargs and "evaluation_steps" not in kwargs:
            raise ValueError("deepeval:GEval needs value.criteria or value.evaluation_steps")
    return {"metric": metric, "kwargs": kwargs}


def _test_case(check: Check) -> Any:
    from deepeval.test_case import LLMTestCase

    context: list[Any] | None = [check.case.context] if check.case.context else None
    return LLMTestCase(
        input=check.case.input_text,
        actual_output=check.output,
        expected_output=check.case.reference,
        context=context,
        retrieval_context=context,
    )


def _build(prepared: dict[str, Any], threshold: float | None, judge: Any) -> Any:
    metrics = _metrics_module()
    cls = getattr(metrics, prepared["metric"])
    kwargs = dict(prepared["kwargs"])
    if threshold is not None:
        kwargs["threshold"] = threshold
    if prepared["metric"] == "GEval":
        from deepeval.test_case import SingleTurnParams

        params = kwargs.get("evaluation_params") or ["input", "actual_output"]
        kwargs["evaluation_params"] = [SingleTurnParams(p) for p in params]
    if judge is not None:
        from deepeval.models import LocalModel

        kwargs["model"] = LocalModel(
            model=judge.model, base_url=judge.base_url, api_key=judge.api_key or "none"
        )
        kwargs["async_mode"] = False
    return cls(**kwargs)


@assertion("deepeval", family=True, batch=True, uses_threshold=True, prepare_arg=_prepare)
def deepeval_metric(checks: Sequence[Check]) -> list[Outcome]:
    """`deepeval:<MetricName>` (e.g. `deepeval:ExactMatchMetric`, `deepeval:PatternMatchMetric`
    with the pattern as `value`, `deepeval:FaithfulnessMetric`, `deepeval:GEval` with
    `value: {criteria: ...}`) passes when deepeval's metric succeeds at `threshold` (the
    metric's own default otherwise). `value` holds the metric's other options. LLM-judge
    metrics run only when a judge is configured (`EVALKIT_JUDGE_BASE_URL`,
    `EVALKIT_JUDGE_MODEL`); otherwise they are skipped with the reason, never passed."""
    outcomes: list[Outcome] = []
    for check in checks:
        prepared = check.value
        name = prepared["metric"]
        judge = getattr(check.options, "judge", None)
        if name not in DETERMINISTIC and judge is None:
            outcomes.append(
                skipped(
                    f"deepeval:{name} needs an LLM judge: set EVALKIT_JUDGE_BASE_URL and "
                    "EVALKIT_JUDGE_MODEL (an OpenAI-compatible endpoint)"
                )
            )
            continue
        if name in NEEDS_REFERENCE and check.case.reference is None:
            outcomes.append(Outcome("error", f"deepeval:{name} needs the case's reference"))
            continue
        try:
            metric = _build(prepared, check.threshold, judge if name not in DETERMINISTIC else None)
            metric.measure(_test_case(check), _show_indicator=False)
        except Exception as exc:
            outcomes.append(Outcome("error", f"deepeval:{name} raised {type(exc).__name__}: {exc}"))
            continue
        score = float(metric.score) if metric.score is not None else None
        reason = metric.reason or ""
        shown = f"score {score:.3f}" if score is not None else "no score"
        outcomes.append(
            verdict(
                bool(metric.success),
                f"{shown} (threshold {metric.threshold:g}) {reason}".strip(),
                score,
            )
        )
    return outcomes
