"""Reviewer accounts and their credentials in the store (hashes only, never a secret)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from evalkit.errors import NotFoundError, UsageError
from evalkit.review.types import Reviewer
from evalkit.store.database import Database
from evalkit.store.tables import REVIEWER_TOKENS, REVIEWERS


def reviewer_from_row(row: Row[Any]) -> Reviewer:
    m = row._mapping
    tenants = m["tenants"]
    return Reviewer(
        id=m["id"],
        username=m["username"],
        role=m["role"],
        tenants=tuple(tenants) if tenants is not None else None,
        display_name=m["display_name"],
        active=bool(m["active"]),
        has_password=m["password_hash"] is not None,
    )


def insert_reviewer(
    db: Database,
    username: str,
    *,
    role: str,
    tenants: Sequence[str] | None,
    display_name: str | None,
    now: datetime,
) -> Reviewer:
    values = {
        "username": username,
        "role": role,
        "tenants": list(tenants) if tenants is not None else None,
        "display_name": display_name,
        "active": True,
        "created_at": now,
    }
    try:
        with db.transaction() as conn:
            conn.execute(insert(REVIEWERS), values)
    except IntegrityError:
        raise UsageError(f"a reviewer named {username!r} exists already") from None
    found = get_reviewer(db, username)
    assert found is not None
    return found


def get_reviewer(db: Database, username: str) -> Reviewer | None:
    with db.reader() as conn:
        row = conn.execute(select(REVIEWERS).where(REVIEWERS.c.username == username)).first()
    return reviewer_from_row(row) if row is not None else None


def reviewer_by_id(db: Database, reviewer_id: int) -> Reviewer | None:
    with db.reader() as conn:
        row = conn.execute(select(REVIEWERS).where(REVIEWERS.c.id == reviewer_id)).first()
    return reviewer_from_row(row) if row is not None else None


def list_reviewers(db: Database) -> list[Reviewer]:
    with db.reader() as conn:
        rows = conn.execute(select(REVIEWERS).order_by(REVIEWERS.c.username))
        return [reviewer_from_row(row) for row in rows]


def password_hash(db: Database, username: str) -> tuple[Reviewer, str | None] | None:
    with db.reader() as conn:
        row = conn.execute(select(REVIEWERS).where(REVIEWERS.c.username == username)).first()
    if row is None:
        return None
    return reviewer_from_row(row), row.password_hash


def update_reviewer(db: Database, username: str, **values: Any) -> None:
    """Set columns of one reviewer (``password_hash``, ``active``, ``role``, ``tenants``)."""
    with db.transaction() as conn:
        done = conn.execute(
            update(REVIEWERS).where(REVIEWERS.c.username == username).values(**values)
        )
    if done.rowcount == 0:
        raise NotFoundError(f"no reviewer named {username!r} (see `evalkit reviewers list`)")


def add_token(
    db: Database,
    reviewer_id: int,
    token_hash: str,
    *,
    kind: str,
    now: datetime,
    expires_at: datetime | None,
    revoke_previous: bool,
) -> None:
    """Store a token's hash; with ``revoke_previous`` the reviewer's earlier tokens of this kind
    stop working in the same transaction (one live API token per reviewer)."""
    t = REVIEWER_TOKENS
    with db.transaction() as conn:
        if revoke_previous:
            conn.execute(
                update(t)
                .where(t.c.reviewer_id == reviewer_id, t.c.kind == kind, t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        conn.execute(
            insert(t),
            {
                "reviewer_id": reviewer_id,
                "token_hash": token_hash,
                "kind": kind,
                "created_at": now,
                "expires_at": expires_at,
                "revoked_at": None,
            },
        )


def reviewer_for_token_hash(db: Database, token_hash: str, now: datetime) -> Reviewer | None:
    """The active reviewer holding this live token, or None (unknown, revoked, expired)."""
    t, r = REVIEWER_TOKENS, REVIEWERS
    stmt = (
        select(r)
        .join(t, t.c.reviewer_id == r.c.id)
        .where(
            t.c.token_hash == token_hash,
            t.c.revoked_at.is_(None),
            (t.c.expires_at.is_(None)) | (t.c.expires_at > now),
            r.c.active.is_(True),
        )
    )
    with db.reader() as conn:
        row = conn.execute(stmt).first()
    return reviewer_from_row(row) if row is not None else None


def revoke_token_hash(db: Database, token_hash: str, now: datetime) -> None:
    t = REVIEWER_TOKENS
    with db.transaction() as conn:
        conn.execute(update(t).where(t.c.token_hash == token_hash).values(revoked_at=now))
