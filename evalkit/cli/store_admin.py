"""Commands that look after the store rather than add to it: ``summary``, ``purge`` and the
``db`` group (schema migrations)."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from evalkit.cli.context import console, open_db, state, translate_errors
from evalkit.errors import StoreError, UsageError

db_app = typer.Typer(help="Store schema: migrate and inspect.", no_args_is_help=True)


@translate_errors
def summary(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What the store holds: responses per model, latency, cost, outcomes, feedback, labels."""
    from evalkit.cli.render import render_summary, summary_as_dict
    from evalkit.store.reports import summarize

    result = summarize(open_db())
    if as_json:
        sys.stdout.write(json.dumps(summary_as_dict(result), indent=2, default=str) + "\n")
    else:
        render_summary(console, result, store=state.settings.resolved_database_url)


_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m`` → a timedelta."""
    match = _DURATION.match(text.lower())
    if not match:
        raise UsageError(
            f"--older-than expects a number and a unit (m, h, d, w), e.g. 90d; got {text!r}"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise UsageError("--older-than must be positive")
    return {
        "m": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
        "w": timedelta(weeks=amount),
    }[unit]


@translate_errors
def purge(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Age limit, e.g. 90d (default: EVALKIT_RETENTION_DAYS)."),
    ] = None,
    keep_labelled: Annotated[
        bool, typer.Option("--keep-labelled", help="Keep responses that carry labels.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
) -> None:
    """Delete responses past the retention limit, with their feedback, labels and review items."""
    from evalkit.store.retention import purge_before

    if older_than is None:
        if state.settings.retention_days is None:
            raise UsageError("give --older-than (e.g. 90d) or set EVALKIT_RETENTION_DAYS")
        age = timedelta(days=state.settings.retention_days)
    else:
        age = parse_age(older_than)
    cutoff = datetime.now(UTC) - age
    result = purge_before(open_db(), cutoff, keep_labelled=keep_labelled, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    console.print(
        f"{verb} {result.responses:,} responses created before {cutoff:%Y-%m-%d %H:%M} UTC "
        f"({result.feedback:,} feedback events, {result.labels:,} labels, "
        f"{result.review_items:,} review items)."
    )


@db_app.command("upgrade")
@translate_errors
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from evalkit.store.database import make_engine, upgrade

    url = state.settings.resolved_database_url
    try:
        revision = upgrade(make_engine(url))
    except Exception as exc:
        raise StoreError(f"cannot migrate the store at {url}: {exc}") from exc
    console.print(f"Store at revision {revision}.")


@db_app.command("current")
@translate_errors
def db_current() -> None:
    """Print the store's schema revision and the one this evalkit needs."""
    from evalkit.store.database import current_revision, head_revision, make_engine

    try:
        current = current_revision(make_engine(state.settings.resolved_database_url))
    except Exception as exc:
        raise StoreError(f"cannot open the store: {exc}") from exc
    console.print(f"current: {current or '(empty)'}  head: {head_revision()}")
