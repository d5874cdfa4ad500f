"""The learn stage's use cases: train from the store, score a file, the demo's training step.

Each takes an open ``Database`` and ``Settings`` and returns plain values; the CLI renders them.
The static embedding model is distilled once into ``<data dir>/cache`` (``ensure_static_model``)
and every artifact carries its own copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.learn.card import summary_lines
from evalkit.learn.embed import ensure_static_model
from evalkit.learn.suspects import Suspect, find_suspects
from evalkit.learn.train import (
    TrainOptions,
    TrainResult,
    model_sha256,
    thresholds_of,
    train_classifier,
)
from evalkit.settings import Settings
from evalkit.store.database import Database

Log = Callable[[str], None]


@dataclass
class TrainOutcome:
    result: TrainResult
    suspects: list[Suspect] = field(default_factory=list)
    suspects_queued: int = 0

    @property
    def summary(self) -> list[str]:
        return summary_lines(self.result.metadata)


def cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "cache"


def train_from_store(
    db: Database,
    settings: Settings,
    options: TrainOptions,
    *,
    out_dir: Path,
    activate: bool = True,
    suspects: int = 50,
    log: Log | None = None,
) -> TrainOutcome:
    """Train on the store's final labels, write the artifact, register (and activate) it,
    and send up to ``suspects`` suspect labels per head to the review queue."""
    from evalkit.learn.sources import labelled_sets
    from evalkit.store.classifiers import register_classifier

    say = log or (lambda _m: None)
    sets = labelled_sets(db, options.heads)
    encoder = ensure_static_model(cache_dir(settings))
    result = train_classifier(sets, options, out_dir=out_dir, encoder_dir=encoder, log=say)
    meta = result.metadata
    register_classifier(
        db,
        version=result.version,
        heads=list(meta["heads"]),
        artifact_path=str(result.path.resolve()),
        artifact_sha256=model_sha256(meta),
        thresholds=thresholds_of(meta),
        metrics={
            h: {k: m["held_out"][k] for k in ("ap", "roc_auc", "ece")}
            for h, m in meta["heads"].items()
        },
        trained_at=_parse_time(meta["trained_at"]),
        activate=activate,
    )
    outcome = TrainOutcome(result)
    if suspects > 0:
        for head, data in result.sets.items():
            outcome.suspects += find_suspects(data, result.oof[head], limit=suspects)
        outcome.suspects_queued = _queue_suspects(db, outcome.suspects, settings)
    return outcome


def _parse_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def _queue_suspects(db: Database, suspects: list[Suspect], settings: Settings) -> int:
    from datetime import timedelta

    from evalkit.sample import enqueue_flagged

    if not suspects:
        return 0
    result = enqueue_flagged(
        db,
        [s.response_id for s in suspects],
        reason="suspect label (confident learning)",
        priority=5,
        due_in=timedelta(minutes=settings.review_sla_minutes) * 24,
        strategy="suspect",
    )
    return len(result.added)


def train_demo_classifier(
    db: Database,
    settings: Settings,
    *,
    out_dir: Path | None = None,
    seed: int = 0,
    log: Log | None = None,
) -> TrainOutcome | None:
    """The demo loop's step after the simulated reviewers: train on their final labels into
    ``<data dir>/classifiers`` and activate it. None (with a message) when no head has enough
    labels yet; the first run also distils the static embedding model (once per data dir)."""
    say = log or print
    try:
        outcome = train_from_store(
            db,
            settings,
            TrainOptions(seed=seed),
            out_dir=out_dir or settings.data_dir / "classifiers",
            suspects=20,
            log=say,
        )
    except UsageError as exc:
        say(f"classifier not trained: {exc}")
        return None
    say(f"classifier {outcome.result.version} trained and active ({outcome.result.path})")
    for line in outcome.summary:
        say(f"  {line}")
    return outcome


def read_responses(
    path: Path, settings: Settings
) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(location, record, error) per record of a response file in any ingest format."""
    from evalkit.capture.readers import FileProblem, LineBlock, Reader, decode_line, detect_format

    reader = Reader(path, detect_format(path), max_record_bytes=settings.max_record_bytes)
    try:
        for item in reader:
            items = item.lines(settings.max_record_bytes) if isinstance(item, LineBlock) else [item]
            for raw in items:
                if raw.raw is not None:
                    raw = decode_line(raw)
                yield raw.location, raw.data, raw.error
    except FileProblem as exc:
        raise UsageError(str(exc)) from None


def score_file(
    classifier: Path, path: Path, out: Path, settings: Settings, *, batch: int = 256
) -> dict[str, int]:
    """Score every response of ``path`` with the artifact at ``classifier`` into ``out``
    (JSONL: id, scores, action); returns counts per action (and ``errors``)."""
    from evalkit.guard import Guard

    guard = Guard.load(classifier, max_chars=settings.guard_max_chars)
    counts = {"allow": 0, "review": 0, "block": 0, "errors": 0}
    pending: list[dict[str, Any]] = []

    def flush(handle: Any) -> None:
        for record, verdict in zip(pending, guard.check_many(pending), strict=True):
            counts[verdict.action] += 1
            handle.write(
                json.dumps(
                    {"id": record.get("id"), "scores": verdict.scores, "action": verdict.action}
                )
                + "\n"
            )
        pending.clear()

    with out.open("w", encoding="utf-8") as handle:
        for location, record, error in read_responses(path, settings):
            if record is None or not isinstance(record.get("response"), str):
                counts["errors"] += 1
                handle.write(
                    json.dumps({"location": location, "error": error or "no 'response' text"})
                    + "\n"
                )
                continue
            pending.append(record)
            if len(pending) >= batch:
                flush(handle)
        flush(handle)
    return counts
