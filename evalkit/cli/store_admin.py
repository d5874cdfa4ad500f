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


_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$")
_UNITS: dict[str, timedelta] = {
    **dict.fromkeys(("min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), timedelta(weeks=1)),
}
#: A bare ``m`` reads as months as easily as minutes, and a purge that took ``3m`` as three
#: minutes would delete almost everything; months and years vary in length. All are refused.
_MONTHS_YEARS = frozenset(
    ("mo", "mon", "mos", "month", "months", "y", "yr", "yrs", "year", "years")
)
AGE_UNITS_HELP = "min, h, d, w (or minutes, hours, days, weeks)"


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30min``, ``90days`` → a timedelta.

    Raises ``UsageError`` for a bare ``m``, months and years: give days instead (``90d``).
    """
    match = _DURATION.match(text.lower())
    if not match or not match.group(2):
        raise UsageError(
            f"--older-than expects a number and a unit ({AGE_UNITS_HELP}), e.g. 90d; got {text!r}"
        )
    amount, unit = int(match.group(1)), match.group(2)
    given = text.strip()
    if unit == "m":
        raise UsageError(
            f"--older-than {given!r} is ambiguous: 'm' could be minutes or months; "
            f"give days, e.g. 90d (or minutes as {amount}min)"
        )
    if unit in _MONTHS_YEARS:
        raise UsageError(
            f"--older-than {given!r}: months and years are not supported (their length varies); "
            "give days, e.g. 90d"
        )
    if unit not in _UNITS:
        raise UsageError(
            f"--older-than {given!r}: unknown unit {unit!r}; use {AGE_UNITS_HELP}, e.g. 90d"
        )
    if amount <= 0:
        raise UsageError("--older-than must be positive")
    try:
        return amount * _UNITS[unit]
    except OverflowError:
        raise UsageError(f"--older-than {given!r} is too long") from None


@translate_errors
def purge(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help=f"Age limit: a number and a unit, {AGE_UNITS_HELP}; e.g. 90d, 12h, 30min. "
            "A bare 'm' (minutes or months?), months and years are refused: give days. "
            "Default: EVALKIT_RETENTION_DAYS.",
        ),
    ] = None,
    keep_labelled: Annotated[
        bool, typer.Option("--keep-labelled", help="Keep responses that carry labels.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
) -> None:
    """Delete responses past the retention limit, with their feedback, labels and review items."""
    from evalkit.cli.render import count
    from evalkit.store.retention import purge_before

    days = state.settings.retention_days
    if older_than is None and days is None:
        raise UsageError("give --older-than (e.g. 90d) or set EVALKIT_RETENTION_DAYS")
    try:
        age = parse_age(older_than) if older_than is not None else timedelta(days=days or 0)
        cutoff = datetime.now(UTC) - age
    except OverflowError:
        given = f"--older-than {older_than!r}" if older_than else f"EVALKIT_RETENTION_DAYS={days}"
        raise UsageError(f"{given} reaches back before year 1") from None
    result = purge_before(open_db(), cutoff, keep_labelled=keep_labelled, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    console.print(
        f"{verb} {count(result.responses, 'response')} created before "
        f"{cutoff:%Y-%m-%d %H:%M} UTC ({count(result.feedback, 'feedback event')}, "
        f"{count(result.labels, 'label')}, {count(result.review_items, 'review item')})."
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
