"""Repository functions of the learn and guard stages: classifier versions and guard verdicts.

One version is active at a time: ``register_classifier`` (with ``activate``) and
``activate_classifier`` switch it inside one transaction, so a reader never sees none or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from evalkit.errors import NotFoundError
from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import CLASSIFIER_VERSIONS, GUARD_VERDICTS

_C = CLASSIFIER_VERSIONS


def _version_dict(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["trained_at"] = aware(data["trained_at"])
    return data


def register_classifier(
    db: Database,
    *,
    version: str,
    heads: Sequence[str],
    artifact_path: str,
    artifact_sha256: str,
    thresholds: dict[str, Any],
    metrics: dict[str, Any],
    trained_at: datetime,
    activate: bool = True,
) -> None:
    """Record a trained version (and make it the active one with ``activate``)."""
    with db.transaction() as conn:
        if activate:
            conn.execute(update(_C).where(_C.c.active.is_(True)).values(active=False))
        conn.execute(
            insert(_C).values(
                version=version,
                heads=list(heads),
                artifact_path=artifact_path,
                artifact_sha256=artifact_sha256,
                thresholds=thresholds,
                metrics=metrics,
                trained_at=trained_at,
                active=activate,
            )
        )


def activate_classifier(db: Database, version: str) -> None:
    """Make ``version`` the active classifier (NotFoundError if it was never registered)."""
    with db.transaction() as conn:
        found = conn.execute(select(_C.c.id).where(_C.c.version == version)).first()
        if found is None:
            raise NotFoundError(
                f"no classifier version {version!r}: see `evalkit classifiers list`"
            )
        conn.execute(update(_C).where(_C.c.active.is_(True)).values(active=False))
        conn.execute(update(_C).where(_C.c.version == version).values(active=True))


def list_classifiers(db: Database) -> list[dict[str, Any]]:
    """Every registered version, newest first."""
    with db.reader() as conn:
        rows = conn.execute(select(_C).order_by(_C.c.trained_at.desc(), _C.c.id.desc()))
        return [_version_dict(row) for row in rows]


def active_version(db: Database) -> dict[str, Any] | None:
    with db.reader() as conn:
        row = conn.execute(select(_C).where(_C.c.active.is_(True))).first()
    return _version_dict(row) if row is not None else None


def insert_verdicts(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    """Store guard verdicts (keys: response_id, classifier_version, scores, decision,
    latency_ms, created_at) in one transaction."""
    if rows:
        with db.transaction() as conn:
            conn.execute(insert(GUARD_VERDICTS), list(rows))


def recent_verdicts(db: Database, *, limit: int = 100) -> list[dict[str, Any]]:
    """The latest guard verdicts, newest first."""
    with db.reader() as conn:
        rows = conn.execute(
            select(GUARD_VERDICTS).order_by(GUARD_VERDICTS.c.id.desc()).limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def responses_by_id(db: Database, ids: Sequence[str]) -> dict[str, Any]:
    """id → ResponseRecord for the stored ones among ``ids`` (training reads labelled ones)."""
    from evalkit.store.mappers import response_from_row
    from evalkit.store.tables import RESPONSES

    out: dict[str, Any] = {}
    unique = list(dict.fromkeys(ids))
    with db.reader() as conn:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for row in conn.execute(select(RESPONSES).where(RESPONSES.c.id.in_(chunk))):
                record = response_from_row(row)
                out[record.id] = record
    return out
