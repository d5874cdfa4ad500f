"""The allow / review / block policy: per-head thresholds and what to do when scoring fails.

A deployment starts from the thresholds its artifact was trained with and may override any of
them. ``shadow`` scores and records but always answers ``allow`` (the dry run before a guard
is trusted to block). ``fail_mode`` says what a service gets when scoring errors or overruns
``timeout_ms``: ``open`` lets the response through (``allow``), ``closed`` stops it (``block``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.errors import UsageError

ACTIONS = ("allow", "review", "block")
FAIL_MODES = ("open", "closed")


@dataclass(frozen=True)
class GuardPolicy:
    """Thresholds per head (``block``: None = this head never blocks) and failure handling."""

    block: Mapping[str, float | None] = field(default_factory=dict)
    review: Mapping[str, float] = field(default_factory=dict)
    shadow: bool = False
    fail_mode: str = "open"
    timeout_ms: float | None = None
    max_chars: int = 20_000

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise UsageError(f"fail_mode must be 'open' or 'closed', got {self.fail_mode!r}")
        if self.timeout_ms is not None and not self.timeout_ms > 0:
            raise UsageError(f"timeout_ms must be positive, got {self.timeout_ms!r}")
        if self.max_chars < 1:
            raise UsageError(f"max_chars must be at least 1, got {self.max_chars!r}")
        for name, values in (("block", self.block), ("review", self.review)):
            for head, value in values.items():
                if value is not None and not 0 <= value <= 1:
                    raise UsageError(f"{name} threshold of {head} must be in [0, 1], got {value}")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], **overrides: Any) -> GuardPolicy:
        """The artifact's trained thresholds, with ``overrides`` (any field) on top."""
        heads = metadata.get("heads", {})
        base = cls(
            block={h: m["thresholds"]["block"] for h, m in heads.items()},
            review={h: m["thresholds"]["review"] for h, m in heads.items()},
        )
        return replace(base, **overrides)

    def decide(self, scores: Mapping[str, float]) -> tuple[str, tuple[str, ...]]:
        """(action, heads that caused it): the most severe action any head calls for."""
        blocking = tuple(h for h, s in scores.items() if _reaches(s, self.block.get(h)))
        if blocking:
            return "block", blocking
        reviewing = tuple(h for h, s in scores.items() if h in self.review and s >= self.review[h])
        if reviewing:
            return "review", reviewing
        return "allow", ()

    @property
    def on_failure(self) -> str:
        return "allow" if self.fail_mode == "open" else "block"


def _reaches(score: float, threshold: float | None) -> bool:
    return threshold is not None and score >= threshold
