"""Close the loop: reviewed production failures become golden cases.

Every response whose final label says it failed (hallucinated, harmful, impolite) becomes a case
with the prompt and context it was given, the reviewer's correction as its ``reference`` and
their note as its ``description``, so each caught failure turns into a regression test. Its
checks: the output must not repeat the failing answer's opening claim, must mean what the
correction says (``semantic_similarity``, when there is a correction), and must pass the guard's
head for that failure (``risk``, skipped until a classifier is given). Review the cases before
relying on them; they are appended to the suite, never overwriting one already there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from evalkit.errors import UsageError
from evalkit.gate.suite import SuiteError, load_suite

if TYPE_CHECKING:
    from evalkit.store.database import Database

FAILURE_HEADS = ("hallucination", "harm", "impolite")
#: Shorter openings are too generic to forbid ("Sure.", "Yes,").
MIN_CLAIM_CHARS = 20


def opening_claim(text: str) -> str | None:
    """The failing answer's first sentence, if long enough to be specific."""
    first = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0].strip()
    return first if len(first) >= MIN_CLAIM_CHARS else None


def cases_from_review(
    db: Database,
    *,
    heads: Sequence[str] = FAILURE_HEADS,
    tenant: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Golden case mappings (as a suite file holds them) for reviewed failures, by response id."""
    from evalkit.review import final_labels
    from evalkit.store.gate_runs import responses_by_id, reviewer_notes

    failing: dict[str, list[str]] = {}
    for head in heads:
        for final in final_labels(db, head, tenant=tenant, since=since):
            if final.positive:
                failing.setdefault(final.response_id, []).append(head)
    ids = sorted(failing)[:limit] if limit is not None else sorted(failing)
    responses = responses_by_id(db, ids)
    notes = reviewer_notes(db, ids)
    cases = []
    for rid in ids:
        response = responses.get(rid)
        if response is None:
            continue
        note = notes.get(rid)
        asserts: list[dict[str, Any]] = []
        claim = opening_claim(response.response)
        if claim:
            asserts.append({"type": "not_contains", "value": claim})
        if note and note.correction:
            asserts.append({"type": "semantic_similarity", "threshold": 0.7})
        asserts += [{"type": "risk", "value": head} for head in failing[rid]]
        case: dict[str, Any] = {"id": f"review-{rid}", "prompt": response.prompt}
        if response.context:
            case["context"] = response.context
        if note and note.correction:
            case["reference"] = note.correction
        if note and note.note:
            case["description"] = note.note
        case["tags"] = ["from-review", *failing[rid]] + (
            [response.intent] if response.intent else []
        )
        case["metadata"] = {"response_id": rid, "model_id": response.model_id}
        case["assert"] = asserts
        cases.append(case)
    return cases


def add_to_suite(path: Path, cases: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Append ``cases`` to the suite at ``path`` (created if absent); returns (added, already).

    A suite with ``cases_file`` gets JSONL lines; an inline suite gets YAML list items appended
    after its last case (comments and layout kept), which needs ``cases`` to be its last key.
    The suite is loaded again afterwards, and the file restored if it no longer validates.
    """
    import yaml

    if not path.exists():
        header = {"name": path.stem, "description": "Reviewed production failures"}
        text = yaml.safe_dump(header, sort_keys=False) + "cases:\n"
        existing: set[str] = set()
        data: dict[str, Any] = {}
        original = None
    else:
        original = path.read_text(encoding="utf-8")
        data = yaml.safe_load(original) or {}
        existing = {str(c.get("id")) for c in _current_cases(path, data)}
        text = original
    new = [c for c in cases if c["id"] not in existing]
    if not new:
        return 0, len(cases)
    if "cases_file" in data:
        cases_path = path.parent / data["cases_file"]
        with cases_path.open("ab") as fh:
            for c in new:
                fh.write(orjson.dumps(c) + b"\n")
        target, restore = cases_path, None
    else:
        if data and list(data)[-1] != "cases":
            raise UsageError(
                f"{path}: 'cases' is not the suite's last field, so new cases cannot be appended "
                "without rewriting it; move 'cases' to the end (or use cases_file)"
            )
        indent = _item_indent(text)
        items = yaml.safe_dump(new, sort_keys=False, allow_unicode=True, width=100)
        block = "".join(indent + line + "\n" for line in items.splitlines())
        target, restore = path, original
        path.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
    try:
        load_suite(path)
    except SuiteError as exc:
        if restore is not None:
            path.write_text(restore, encoding="utf-8")
        elif original is None and target == path:
            path.unlink()
        raise UsageError(f"the new cases do not validate, nothing was added: {exc}") from None
    return len(new), len(cases) - len(new)


def _current_cases(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    if "cases_file" in data:
        lines = (path.parent / data["cases_file"]).read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.strip()]
    return [c for c in data.get("cases") or [] if isinstance(c, dict)]


def _item_indent(text: str) -> str:
    match = re.search(r"^( *)- id:", text, re.MULTILINE)
    return match.group(1) if match else "  "
