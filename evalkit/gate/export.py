"""Export a suite as deepeval goldens, for teams that also run deepeval.

The JSON file holds one object per case with deepeval's ``Golden`` keys (``input``,
``expected_output``, ``context``, ``retrieval_context``, ``additional_metadata``, ``comments``;
``actual_output`` when recorded outputs are given), so
``EvaluationDataset().add_goldens_from_json_file(path)`` reads it as it is. Chat cases export
their last user turn as ``input`` and the whole chat under ``additional_metadata.messages``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from evalkit.gate.outputs import OutputSet
from evalkit.gate.suite import Suite


def goldens(suite: Suite, outputs: OutputSet | None = None) -> list[dict[str, Any]]:
    recorded = outputs.for_suite(suite.name) if outputs is not None else {}
    out = []
    for case in suite.cases:
        golden: dict[str, Any] = {"input": case.input_text}
        runs = recorded.get(case.id) or []
        if runs and runs[0].output is not None:
            golden["actual_output"] = runs[0].output
        if case.reference is not None:
            golden["expected_output"] = case.reference
        if case.context:
            golden["context"] = [case.context]
            golden["retrieval_context"] = [case.context]
        meta: dict[str, Any] = {
            "suite": suite.name,
            "case_id": case.id,
            "tags": list(case.tags),
            "critical": case.critical,
            "assert": [
                {"type": s.type, "value": s.raw_value, "threshold": s.threshold}
                for s in case.asserts
            ],
        }
        if case.messages is not None:
            meta["messages"] = [dict(m) for m in case.messages]
        golden["additional_metadata"] = meta
        if case.description:
            golden["comments"] = case.description
        out.append(golden)
    return out


def write_goldens(path: Path, suite: Suite, outputs: OutputSet | None = None) -> int:
    rows = goldens(suite, outputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
    return len(rows)


def evaluation_dataset(suite: Suite, outputs: OutputSet | None = None) -> Any:
    """The suite as a ``deepeval.dataset.EvaluationDataset`` of goldens (imports deepeval)."""
    import os

    os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
    from deepeval.dataset import EvaluationDataset, Golden

    return EvaluationDataset(goldens=[Golden(**g) for g in goldens(suite, outputs)])
