"""Login, expiry and who may open which page.

A login checks the password against the reviewers in the store (argon2, verified by the review
stage) and mints a session token with a time to live (``EVALKIT_APP_SESSION_MINUTES``); the
browser session keeps the token. Every page run resolves the token again in the store, so an
expired, revoked (logout) or deactivated login reaches nothing, and a role or tenant change
applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from evalkit.records import utcnow
from evalkit.review import (
    Reviewer,
    mint_token,
    reviewer_for_token,
    revoke_token,
    verify_login,
)
from evalkit.store.database import Database

#: Which roles may open which page. The role hierarchy is reviewer < adjudicator < admin: an
#: adjudicator labels too, an admin sees everything. Pages not listed are admin-only.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "Label": frozenset({"reviewer", "adjudicator", "admin"}),
    "Adjudicate": frozenset({"adjudicator", "admin"}),
    "Queue": frozenset({"admin"}),
    "Reviewers": frozenset({"admin"}),
}


@dataclass(frozen=True)
class AppSession:
    """A login: the session token (only its hash is in the store) and who it belongs to."""

    token: str
    reviewer: Reviewer
    expires_at: datetime

    @property
    def role(self) -> str:
        return self.reviewer.role

    @property
    def display_name(self) -> str:
        return self.reviewer.display_name or self.reviewer.username


def login(db: Database, username: str, password: str, *, minutes: int) -> AppSession | str:
    """A new session for the right password of an active account, else the message to show.

    The message never says whether the name exists.
    """
    if not username.strip() or not password:
        return "Enter your username and password."
    reviewer = verify_login(db, username.strip(), password)
    if reviewer is None:
        return "Wrong username or password, or the account is deactivated."
    ttl = timedelta(minutes=minutes)
    token = mint_token(db, reviewer.username, kind="session", ttl=ttl)
    return AppSession(token=token, reviewer=reviewer, expires_at=utcnow() + ttl)


def resume(db: Database, session: AppSession) -> AppSession | None:
    """The session again, with the account as the store has it now; None once the token has
    expired or been revoked, or the account was deactivated."""
    reviewer = reviewer_for_token(db, session.token)
    if reviewer is None:
        return None
    return AppSession(token=session.token, reviewer=reviewer, expires_at=session.expires_at)


def logout(db: Database, session: AppSession) -> None:
    revoke_token(db, session.token)


def may_open(session: AppSession, page: str) -> bool:
    return session.role in PAGE_ROLES.get(page, frozenset({"admin"}))


def start_page(session: AppSession) -> str:
    """Where a login lands: reviewers go straight to work, admins to the queue overview."""
    return "pages/3_Queue.py" if session.role == "admin" else "pages/1_Label.py"


def remaining_text(session: AppSession, now: datetime) -> str:
    """``session ends in 7 h 59 min``: shown on the home page."""
    left = max(timedelta(0), session.expires_at - now)
    hours, rest = divmod(int(left.total_seconds()), 3600)
    minutes = rest // 60
    return f"session ends in {hours} h {minutes} min" if hours else f"session ends in {minutes} min"
