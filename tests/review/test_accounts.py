"""Reviewer accounts: roles, tenants, argon2 passwords, tokens stored only as hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from evalkit.errors import NotFoundError, UsageError
from evalkit.review import accounts


def test_add_login_and_tokens(db):
    ann = accounts.add_reviewer(db, "ann", role="adjudicator", tenants=["acme", "globex"])
    assert (ann.role, ann.tenants, ann.has_password) == ("adjudicator", ("acme", "globex"), False)
    assert accounts.verify_login(db, "ann", "whatever-1") is None  # no password yet
    accounts.set_password(db, "ann", "correct horse")
    assert accounts.verify_login(db, "ann", "correct horse") == accounts.get_reviewer(db, "ann")
    assert accounts.verify_login(db, "ann", "wrong horse!") is None
    assert accounts.verify_login(db, "nobody", "correct horse") is None

    token = accounts.mint_token(db, "ann")
    assert token.startswith("evk_") and len(token) > 40
    assert accounts.reviewer_for_token(db, token).username == "ann"  # type: ignore[union-attr]
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM reviewer_tokens")).scalars().all()
        hashes = conn.execute(text("SELECT password_hash FROM reviewers")).scalars().all()
    assert stored == [accounts.hash_token(token)] and token not in stored
    assert hashes[0].startswith("$argon2id$")

    newer = accounts.mint_token(db, "ann")  # a new API token retires the old one
    assert accounts.reviewer_for_token(db, token) is None
    assert accounts.reviewer_for_token(db, newer) is not None
    session = accounts.mint_token(db, "ann", kind="session", ttl=timedelta(minutes=5))
    assert accounts.reviewer_for_token(db, newer) is not None  # sessions leave it alone
    later = accounts.utcnow() + timedelta(minutes=6)
    assert accounts.reviewer_for_token(db, session, now=later) is None
    accounts.revoke_token(db, newer)
    assert accounts.reviewer_for_token(db, newer) is None
    assert accounts.reviewer_for_token(db, "") is None

    accounts.set_active(db, "ann", False)
    assert accounts.reviewer_for_token(db, session) is None
    assert accounts.verify_login(db, "ann", "correct horse") is None


def test_bad_accounts_are_refused(db):
    accounts.add_reviewer(db, "bob", password="long enough")
    with pytest.raises(UsageError, match="exists already"):
        accounts.add_reviewer(db, "bob")
    with pytest.raises(UsageError, match="role 'boss'"):
        accounts.add_reviewer(db, "cy", role="boss")
    with pytest.raises(UsageError, match="reviewer name"):
        accounts.add_reviewer(db, "has space")
    with pytest.raises(UsageError, match="at least 8"):
        accounts.set_password(db, "bob", "short")
    with pytest.raises(NotFoundError, match="no reviewer named 'zed'"):
        accounts.set_password(db, "zed", "long enough")
    with pytest.raises(NotFoundError):
        accounts.mint_token(db, "zed")
    assert [r.username for r in accounts.list_reviewers(db)] == ["bob"]
