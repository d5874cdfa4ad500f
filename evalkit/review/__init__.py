"""Review: the queue reviewers work, their labels, agreement and the final labels.

Public surface (stable names; every function takes an open ``Database`` first and returns frozen
dataclasses from ``evalkit.review.types``):

Label schema (``evalkit.review.schema``, the one definition every front end renders):
    ``HEADS``, ``GENERAL``, ``describe()`` (JSON-ready: heads, choices, labels, guidelines,
    keyboard keys), ``keyboard_keys()``, ``parse_submission(labels, **general) -> Submission``.

Final labels (what training and estimates read; docs/architecture.md):
    ``final_labels(db, head, *, tenant=None, since=None, until=None) -> list[FinalLabel]``
    with ``head`` in hallucination | harm | impolite; each row has ``value``, ``positive``
    (bool, None when undecided), ``source`` (single | consensus | adjudicated | imported).

Accounts (``evalkit.review.accounts``):
    ``add_reviewer(db, username, *, role="reviewer", tenants=None, display_name=None,
    password=None) -> Reviewer``; ``get_reviewer``; ``list_reviewers``;
    ``set_password(db, username, password)`` (argon2id); ``set_active``;
    ``verify_login(db, username, password) -> Reviewer | None``;
    ``mint_token(db, username, *, kind="api"|"session", ttl=None) -> str`` (only its sha256
    is stored; a new API token revokes the previous one); ``reviewer_for_token(db, token) ->
    Reviewer | None``; ``revoke_token(db, token)``.

Queue (``evalkit.review.queue``):
    ``claim(db, reviewer, *, queue=None, lease=10 min, gold_rate=0.0, rng=None) ->
    QueueItem | None``; ``submit(db, reviewer, item_id, labels, **general) -> SubmitResult``
    (again = an edit, a new version); ``release(db, reviewer, item_id)``;
    ``renew(db, reviewer, item_id, *, lease) -> datetime``; ``adjudicate(db, adjudicator,
    item_id, labels, **general)``; ``disputed_items(db, adjudicator, *, queue=None)``;
    ``queue_status(db, *, queue=None, reviewer=None) -> QueueStatus``; ``item_history``;
    ``open_items(db, *, queue=None, viewer=None, limit=None) -> list[OpenItem]`` (pending items
    still needing reviews, serving order); ``submit_external(db, item_id, annotator,
    submission, *, source="labelstudio", external_id) -> SubmitResult | None`` (labels made
    outside evalkit, e.g. Label Studio: no lease, the same k rule, an unknown annotator gets a
    reviewer account without password, bound to the item's tenant; the same ``external_id``
    again stores nothing: None); ``external_reviewers(db, {annotator: item_ids})`` creates such
    accounts up front, bound to the tenants of all the items each annotated.
    A lost lease raises ``LeaseLost`` (HTTP 409), a missing role ``Forbidden`` (403), another
    tenant's item ``NotFoundError`` (404).

Breakdowns for admins (``evalkit.review.breakdowns``): ``queue_depth(db, *, queue=None,
viewer=None, now) -> list[DepthRow]`` (priority, strategy, stratum, open, overdue);
``sla_breaches(db, *, since, now, viewer=None) -> list[Breach]``; ``throughput(db, *, since,
until, bucket="hour"|"day", viewer=None) -> list[ThroughputRow]`` (reviewer, bucket_start,
submitted, median_seconds).

Sampling puts items in the queue (``evalkit.sample``: ``enqueue_flagged``, strategies).
"""

from evalkit.review import accounts, schema
from evalkit.review.accounts import (
    add_reviewer,
    get_reviewer,
    list_reviewers,
    mint_token,
    reviewer_for_token,
    revoke_token,
    set_active,
    set_password,
    verify_login,
)
from evalkit.review.breakdowns import (
    Breach,
    DepthRow,
    ThroughputRow,
    queue_depth,
    sla_breaches,
    throughput,
)
from evalkit.review.final import final_labels
from evalkit.review.queue import (
    adjudicate,
    claim,
    disputed_items,
    external_reviewers,
    item_history,
    open_items,
    queue_status,
    release,
    renew,
    submit,
    submit_external,
)
from evalkit.review.schema import Submission, describe, parse_submission
from evalkit.review.types import (
    DisputedItem,
    FinalLabel,
    Forbidden,
    LabelVersion,
    LeaseLost,
    OpenItem,
    QueueItem,
    QueueStatus,
    Reviewer,
    ReviewerProgress,
    SubmitResult,
)

__all__ = [
    "Breach",
    "DepthRow",
    "DisputedItem",
    "FinalLabel",
    "Forbidden",
    "LabelVersion",
    "LeaseLost",
    "OpenItem",
    "QueueItem",
    "QueueStatus",
    "Reviewer",
    "ReviewerProgress",
    "Submission",
    "SubmitResult",
    "ThroughputRow",
    "accounts",
    "add_reviewer",
    "adjudicate",
    "claim",
    "describe",
    "disputed_items",
    "external_reviewers",
    "final_labels",
    "get_reviewer",
    "item_history",
    "list_reviewers",
    "mint_token",
    "open_items",
    "parse_submission",
    "queue_depth",
    "queue_status",
    "release",
    "renew",
    "reviewer_for_token",
    "revoke_token",
    "schema",
    "set_active",
    "set_password",
    "sla_breaches",
    "submit",
    "submit_external",
    "throughput",
    "verify_login",
]
