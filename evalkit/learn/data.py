"""What the learn stage trains on: texts with a binary label per head, and where they come from.

An ``Example`` is the part of a response the classifier may look at (prompt, response, context,
the model's own confidence and a little metadata); it is what ``Guard.check`` builds from its
arguments too, so training and serving featurize the same thing. A ``LabelledSet`` pairs
examples with one head's binary labels and optional groups (records sharing a prompt, which a
split must keep together).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import UsageError

#: The heads a risk classifier can carry, in the order artifacts and reports list them.
HEADS = ("hallucination", "harm", "impolite")
#: Characters of each field the features read: enough for any tone or claim, a bounded cost.
MAX_FEATURE_CHARS = 4000


@dataclass(frozen=True)
class Example:
    """The inputs of one classification: what the guard sees before a response is sent."""

    response: str
    prompt: str = ""
    context: str | None = None
    confidence: float | None = None
    model_id: str | None = None
    intent: str | None = None
    id: str | None = None
    group: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Example:
        """From an ingest/interchange-shaped dict; unknown keys land in ``meta``."""
        known = {"id", "prompt", "response", "context", "confidence", "model_id", "intent"}
        context = data.get("context")
        if isinstance(context, list):
            context = "\n\n".join(str(part) for part in context)
        confidence = data.get("confidence")
        return cls(
            id=None if data.get("id") is None else str(data["id"]),
            prompt=str(data.get("prompt") or ""),
            response=str(data.get("response") or ""),
            context=None if context in (None, "") else str(context),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            model_id=data.get("model_id"),
            intent=data.get("intent"),
            group=None if data.get("group") is None else str(data["group"]),
            meta={k: v for k, v in data.items() if k not in known and k != "labels"},
        )


@dataclass
class LabelledSet:
    """Examples with one head's binary labels (``y``: 0/1 ints) and optional groups."""

    head: str
    examples: list[Example]
    y: np.ndarray
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.int64)
        if len(self.examples) != len(self.y):
            raise ValueError("examples and labels differ in length")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: Sequence[int] | np.ndarray) -> LabelledSet:
        index = np.asarray(index, dtype=np.int64)
        groups = None if self.groups is None else self.groups[index]
        return LabelledSet(self.head, [self.examples[i] for i in index], self.y[index], groups)

    @property
    def counts(self) -> dict[str, int]:
        positives = int(self.y.sum())
        return {"labelled": len(self.y), "positive": positives, "negative": len(self.y) - positives}

    def data_hash(self) -> str:
        """sha256 over (id or text, label) in a stable order: names the training data exactly."""
        digest = hashlib.sha256()
        keyed = sorted(
            (ex.id or hashlib.sha256(ex.response.encode()).hexdigest(), int(label))
            for ex, label in zip(self.examples, self.y, strict=True)
        )
        for key, label in keyed:
            digest.update(f"{key}\t{label}\n".encode())
        return digest.hexdigest()


def binary_label(head: str, labels: dict[str, Any]) -> bool | None:
    """The binary view of one head in an interchange ``labels`` object (None: not labelled).

    ``impolite`` falls back to ``tone`` (``impolite`` is positive), as docs/architecture.md says.
    """
    value = labels.get(head)
    if head == "impolite" and value is None and labels.get("tone") is not None:
        return labels["tone"] == "impolite"
    return value if isinstance(value, bool) else None


def read_interchange(path: Path) -> Iterator[tuple[Example, dict[str, Any]]]:
    """(example, labels) per line of a labelled-response interchange file."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:line {number}: not valid JSON ({exc})") from None
            if not isinstance(data, dict) or not isinstance(data.get("response"), str):
                raise UsageError(f"{path}:line {number}: expected an object with a 'response'")
            yield Example.from_mapping(data), data.get("labels") or {}


def labelled_set(head: str, rows: Iterable[tuple[Example, dict[str, Any]]]) -> LabelledSet:
    """The examples of ``rows`` that carry a decision for ``head``."""
    examples, y = [], []
    for example, labels in rows:
        value = binary_label(head, labels)
        if value is not None:
            examples.append(example)
            y.append(int(value))
    groups = np.array([ex.group or ex.id or str(i) for i, ex in enumerate(examples)], dtype=object)
    return LabelledSet(head, examples, np.array(y, dtype=np.int64), groups)
