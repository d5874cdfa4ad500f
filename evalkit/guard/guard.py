"""``Guard``: score a response before it is sent, in-process, in about a millisecond.

    from evalkit import Guard

    guard = Guard.load("classifiers/rc-...")                # or Guard.active(settings)
    v = guard.check(prompt=p, response=r, context=ctx)
    v.scores, v.action, v.classifier_version, v.latency_ms  # {"harm": 0.03, ...}, "allow", ...

What a service can rely on: ``check`` never raises for a scoring problem. An error in the
model, or a check slower than the policy's ``timeout_ms``, is answered by the fail mode
(``allow`` when failing open, ``block`` when failing closed) with ``v.error`` saying what
happened. Texts longer than ``max_chars`` are cut (``v.truncated``). In shadow mode the action
is always ``allow`` and ``v.decided`` holds what the policy would have done. With a store
(``database_url`` / ``settings``) every verdict is recorded in the background and flagged ones
enter the review queue (``guard.recording``); the store being down never reaches the caller.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.guard.policy import GuardPolicy
from evalkit.guard.recording import FLAGGED_SLA, VerdictRecorder
from evalkit.learn.artifact import Artifact, load_artifact
from evalkit.learn.data import Example
from evalkit.learn.fast import CompiledScorer
from evalkit.records import utcnow

log = logging.getLogger("evalkit.guard")

#: Batches up to this size take the compiled per-example path (``learn.fast``).
FAST_PATH_MAX = 32
#: Threads scoring checks under a timeout. A check that outlives its timeout cannot be stopped
#: (Python threads are not killable), so it keeps its thread until it ends; one still queued is
#: cancelled and never runs. When every thread is held by such an overdue check, a new check is
#: answered by the fail mode at once instead of queueing behind them, so a model that has
#: become slow costs a bounded amount of CPU rather than a backlog that grows with traffic and
#: makes every later check time out too.
SCORING_SLOTS = 4


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one response."""

    scores: dict[str, float]
    action: str
    classifier_version: str
    latency_ms: float
    #: what the policy decided (equals ``action`` except in shadow mode)
    decided: str = "allow"
    #: the heads at or above the threshold that caused ``decided``
    heads: tuple[str, ...] = ()
    shadow: bool = False
    truncated: bool = False
    error: str | None = None
    response_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "scores": self.scores,
            "action": self.action,
            "decided": self.decided,
            "heads": list(self.heads),
            "shadow": self.shadow,
            "truncated": self.truncated,
            "error": self.error,
            "classifier_version": self.classifier_version,
            "latency_ms": round(self.latency_ms, 3),
        }


def _cut(text: Any, limit: int) -> tuple[str, bool]:
    text = "" if text is None else str(text)
    return (text[:limit], True) if len(text) > limit else (text, False)


def _example(item: Any, limit: int) -> tuple[Example, bool]:
    """An Example from a mapping, an Example, or a record with the same attributes."""
    get = item.get if isinstance(item, Mapping) else (lambda k, d=None: getattr(item, k, d))
    meta = get("meta") or get("metadata") or {}
    response, cut_r = _cut(get("response"), limit)
    prompt, cut_p = _cut(get("prompt"), limit)
    context_raw = get("context")
    if isinstance(context_raw, list):
        context_raw = "\n\n".join(str(part) for part in context_raw)
    context, cut_c = _cut(context_raw, limit)
    confidence = get("confidence", meta.get("confidence") if isinstance(meta, Mapping) else None)
    rid = get("id") or get("response_id")
    if rid is None and isinstance(meta, Mapping):
        rid = meta.get("response_id") or meta.get("id")
    example = Example(
        response=response,
        prompt=prompt,
        context=context or None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        model_id=get("model_id"),
        intent=get("intent"),
        id=None if rid is None else str(rid),
    )
    return example, cut_r or cut_p or cut_c


class Guard:
    """A loaded classifier and its policy (module docstring). Thread-safe."""

    def __init__(
        self,
        artifact: Artifact,
        policy: GuardPolicy | None = None,
        *,
        recorder: VerdictRecorder | None = None,
    ) -> None:
        self.artifact = artifact
        self.policy = policy or GuardPolicy.from_metadata(artifact.metadata)
        self.recorder = recorder
        self.heads = tuple(artifact.model.heads_)
        self.scorer = CompiledScorer(artifact.model)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._overdue = 0  # checks past their timeout still holding a scoring thread
        self._overdue_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        policy: GuardPolicy | None = None,
        database_url: str | None = None,
        settings: Any = None,
        expected_sha256: str | None = None,
        **policy_overrides: Any,
    ) -> Guard:
        """Load an artifact directory. ``policy_overrides`` (``shadow=True``,
        ``fail_mode="closed"``, ``timeout_ms=20``, ``max_chars``, ``block={...}``) adjust the
        artifact's own policy. With ``database_url`` or ``settings`` verdicts are recorded."""
        artifact = load_artifact(Path(path), expected_sha256=expected_sha256)
        if settings is not None:
            policy_overrides = {**_policy_from_settings(settings), **policy_overrides}
            database_url = database_url or settings.resolved_database_url
        if policy is None:
            policy = GuardPolicy.from_metadata(artifact.metadata, **policy_overrides)
        elif policy_overrides:
            policy = replace(policy, **policy_overrides)
        recorder = None
        if database_url:
            sla = getattr(settings, "review_sla_minutes", None)
            recorder = VerdictRecorder(
                database_url, sla=timedelta(minutes=sla) if sla else FLAGGED_SLA
            )
        return cls(artifact, policy, recorder=recorder)

    @classmethod
    def active(
        cls, db: Any, *, settings: Any = None, record: bool = False, **policy_overrides: Any
    ) -> Guard | None:
        """The store's active classifier version (its registered hash checked), or None."""
        from evalkit.store.classifiers import active_version

        row = active_version(db)
        if row is None:
            return None
        url = db.engine.url.render_as_string(hide_password=False) if record else None
        if settings is not None and not record:
            policy_overrides = {**_policy_from_settings(settings), **policy_overrides}
            settings = None
        return cls.load(
            row["artifact_path"],
            database_url=url,
            settings=settings,
            expected_sha256=row["artifact_sha256"],
            **policy_overrides,
        )

    @property
    def classifier_version(self) -> str:
        return self.artifact.version

    def check(
        self,
        prompt: str = "",
        response: str = "",
        context: str | None = None,
        meta: Mapping[str, Any] | None = None,
        *,
        response_id: str | None = None,
        confidence: float | None = None,
    ) -> Verdict:
        """Score one response and decide (see the module docstring for the guarantees)."""
        item = {
            "prompt": prompt,
            "response": response,
            "context": context,
            "meta": dict(meta or {}),
            "id": response_id,
            "confidence": confidence,
        }
        return self.check_many([item])[0]

    def check_many(self, items: Sequence[Any]) -> list[Verdict]:
        """Score a batch: mappings (the fields of ``check``), Examples or ResponseRecords.

        Each verdict's ``latency_ms`` is its share of the batch's time."""
        started = time.perf_counter()
        if not items:
            return []
        prepared = [_example(item, self.policy.max_chars) for item in items]
        examples = [ex for ex, _ in prepared]
        error: str | None = None
        scores: dict[str, Any] = {}
        try:
            scores = self._score(examples)
            if not all(math.isfinite(x) for values in scores.values() for x in values):
                # NaN compares false with every threshold: it would quietly pass as "allow".
                raise ValueError("the model gave a score that is not a finite number")
        except concurrent.futures.TimeoutError:
            error = f"scoring took longer than {self.policy.timeout_ms:g} ms"
        except _Saturated:
            error = (
                f"all {SCORING_SLOTS} scoring threads are held by checks still running past "
                f"the {self.policy.timeout_ms:g} ms timeout"
            )
        except Exception as exc:  # the model failed: answer by the fail mode, never raise
            error = f"scoring failed: {type(exc).__name__}: {exc}"
            log.exception("guard scoring failed")
        elapsed = (time.perf_counter() - started) * 1000 / len(items)
        verdicts = []
        for i, (example, truncated) in enumerate(prepared):
            if error is None:
                row = {head: round(float(values[i]), 6) for head, values in scores.items()}
                decided, heads = self.policy.decide(row)
            else:
                row, decided, heads = {}, self.policy.on_failure, ()
            verdicts.append(
                Verdict(
                    scores=row,
                    action="allow" if self.policy.shadow else decided,
                    classifier_version=self.classifier_version,
                    latency_ms=elapsed,
                    decided=decided,
                    heads=heads,
                    shadow=self.policy.shadow,
                    truncated=truncated,
                    error=error,
                    response_id=example.id,
                )
            )
        if self.recorder is not None:
            for verdict in verdicts:
                self._record(verdict)
        return verdicts

    def _predict(self, examples: list[Example]) -> dict[str, Any]:
        # Per-example arithmetic wins for a few texts; sklearn's vectorized path for batches.
        if len(examples) <= FAST_PATH_MAX:
            return self.scorer.predict_scores(examples)
        return self.artifact.model.predict_scores(examples)

    def _score(self, examples: list[Example]) -> dict[str, Any]:
        if self.policy.timeout_ms is None:
            return self._predict(examples)
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=SCORING_SLOTS, thread_name_prefix="evalkit-guard"
            )
        if self._overdue >= SCORING_SLOTS:
            raise _Saturated
        future = self._pool.submit(self._predict, examples)
        try:
            return future.result(timeout=self.policy.timeout_ms / 1000)
        except concurrent.futures.TimeoutError:
            if not future.cancel():  # already running: it holds its thread until it ends
                with self._overdue_lock:
                    self._overdue += 1
                future.add_done_callback(self._overdue_ended)
            raise

    def _overdue_ended(self, _future: concurrent.futures.Future[Any]) -> None:
        with self._overdue_lock:
            self._overdue -= 1

    def _record(self, verdict: Verdict) -> None:
        assert self.recorder is not None
        flagged = None
        if verdict.decided in ("review", "block") and verdict.response_id:
            flagged = (
                f"guard {verdict.classifier_version}: {verdict.decided} "
                f"({', '.join(verdict.heads) or verdict.error or 'failure'})"
            )
        self.recorder.submit(
            {
                "response_id": verdict.response_id,
                "classifier_version": verdict.classifier_version,
                "scores": verdict.scores,
                "decision": verdict.decided + ("/shadow" if verdict.shadow else ""),
                "latency_ms": verdict.latency_ms,
                "created_at": utcnow(),
            },
            flagged_reason=flagged,
        )

    def close(self, timeout: float = 5.0) -> None:
        """Flush recorded verdicts (at most ``timeout`` s) and stop background threads."""
        if self.recorder is not None:
            self.recorder.close(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _policy_from_settings(settings: Any) -> dict[str, Any]:
    return {
        "shadow": settings.guard_shadow,
        "fail_mode": settings.guard_fail_mode,
        "timeout_ms": settings.guard_timeout_ms,
        "max_chars": settings.guard_max_chars,
    }


def require_heads(guard: Guard, heads: Sequence[str]) -> None:
    missing = sorted(set(heads) - set(guard.heads))
    if missing:
        raise UsageError(
            f"classifier {guard.classifier_version} has no head(s) "
            f"{', '.join(missing)}; heads: {', '.join(guard.heads)}"
        )


class _Saturated(Exception):
    """Every scoring thread is held by a check running past its timeout (``SCORING_SLOTS``)."""


__all__ = ["Guard", "GuardPolicy", "Verdict"]
