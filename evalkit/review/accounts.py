"""Reviewer accounts: adding them, passwords (argon2), logins and bearer tokens.

Tokens are 256 random bits, so a fast sha256 of them is enough to store (nothing to brute-force);
passwords are chosen by people and get argon2id. Neither secret is ever stored or logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from evalkit.errors import NotFoundError, UsageError
from evalkit.records import utcnow
from evalkit.review.types import ROLES, Reviewer
from evalkit.store import reviewers as store
from evalkit.store.database import Database

#: Prefix of every reviewer token, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "evk_"
MIN_PASSWORD_CHARS = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


def _hasher():  # argon2 is imported on first use: the CLI's --help need not load it
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_reviewer(
    db: Database,
    username: str,
    *,
    role: str = "reviewer",
    tenants: Sequence[str] | None = None,
    display_name: str | None = None,
    password: str | None = None,
) -> Reviewer:
    """Create an account. ``tenants`` None: every tenant; else only those tenants' items."""
    if not _USERNAME.match(username):
        raise UsageError(
            f"reviewer name {username!r}: use letters, digits and . _ @ - (at most 128)"
        )
    if role not in ROLES:
        raise UsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if tenants is not None:
        tenants = [t.strip() for t in tenants if t.strip()]
        if not tenants:
            raise UsageError("--tenants: name at least one tenant, or leave it out for all")
    reviewer = store.insert_reviewer(
        db, username, role=role, tenants=tenants, display_name=display_name, now=utcnow()
    )
    if password is not None:
        set_password(db, username, password)
        reviewer = get_reviewer(db, username)
    return reviewer


def get_reviewer(db: Database, username: str) -> Reviewer:
    found = store.get_reviewer(db, username)
    if found is None:
        raise NotFoundError(f"no reviewer named {username!r} (see `evalkit reviewers list`)")
    return found


def list_reviewers(db: Database) -> list[Reviewer]:
    return store.list_reviewers(db)


def set_password(db: Database, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    store.update_reviewer(db, username, password_hash=_hasher().hash(password))


#: ``set_tenants``'s value for "every tenant"
ALL_TENANTS = None


def set_tenants(db: Database, username: str, tenants: Sequence[str] | None) -> Reviewer:
    """Bind an account to ``tenants`` (None: every tenant); e.g. to widen an account that a
    Label Studio import bound to the tenants it had annotated."""
    if tenants is not None:
        tenants = sorted({t.strip() for t in tenants if t.strip()})
        if not tenants:
            raise UsageError("--tenants: name at least one tenant, or --all-tenants")
    store.update_reviewer(db, username, tenants=tenants)
    return get_reviewer(db, username)


def set_role(db: Database, username: str, role: str) -> Reviewer:
    if role not in ROLES:
        raise UsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    store.update_reviewer(db, username, role=role)
    return get_reviewer(db, username)


def set_active(db: Database, username: str, active: bool) -> None:
    """Deactivate (or reactivate) an account: its tokens and logins stop working, its labels
    stay."""
    store.update_reviewer(db, username, active=active)


def verify_login(db: Database, username: str, password: str) -> Reviewer | None:
    """The reviewer if the password is theirs and the account is active, else None.

    Unknown names cost an argon2 verification too, so timing does not tell which names exist.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    found = store.password_hash(db, username)
    hasher = _hasher()
    if found is None or found[1] is None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY_HASH(), password)
        return None
    reviewer, stored = found
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(stored):
        store.update_reviewer(db, username, password_hash=hasher.hash(password))
    return reviewer if reviewer.active else None


_dummy: list[str] = []


def _DUMMY_HASH() -> str:
    if not _dummy:
        _dummy.append(_hasher().hash(secrets.token_hex(16)))
    return _dummy[0]


def mint_token(
    db: Database, username: str, *, kind: str = "api", ttl: timedelta | None = None
) -> str:
    """A new bearer token for ``username``; only its hash is stored.

    ``kind="api"`` (``evalkit reviewers token``) revokes the reviewer's previous API token;
    ``kind="session"`` (a reviewer-app login, with a ``ttl``) leaves other sessions alone.
    """
    if kind not in ("api", "session"):
        raise UsageError(f"token kind {kind!r}: expected api or session")
    reviewer = get_reviewer(db, username)
    if not reviewer.active:
        raise UsageError(f"reviewer {username!r} is deactivated")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    store.add_token(
        db,
        reviewer.id,
        hash_token(token),
        kind=kind,
        now=now,
        expires_at=now + ttl if ttl is not None else None,
        revoke_previous=kind == "api",
    )
    return token


def reviewer_for_token(db: Database, token: str, *, now: datetime | None = None) -> Reviewer | None:
    """The active reviewer a live token belongs to, or None."""
    if not token:
        return None
    return store.reviewer_for_token_hash(db, hash_token(token), now or utcnow())


def revoke_token(db: Database, token: str) -> None:
    """End a session (logout) or retire an API token."""
    store.revoke_token_hash(db, hash_token(token), utcnow())
