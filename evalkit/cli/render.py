"""How the CLI shows reports and summaries (Rich tables, progress bars)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from evalkit.records import IngestReport, RecordError

if TYPE_CHECKING:
    from evalkit.store.reports import StoreSummary


@contextmanager
def progress_bar(console: Console, *, disable: bool) -> Iterator[Any]:
    """A callback ``(file, done, total)`` drawing one bar per file; silent when not a terminal."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable or not console.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield update


def count(n: int, noun: str) -> str:
    """``count(1, "label")`` → ``1 label``; ``count(2_000, "label")`` → ``2,000 labels``."""
    return f"{n:,} {noun if n == 1 else noun + 's'}"


#: How ``capture.prepare`` names a field read through ``--map``: ``response (column 'output')``.
_COLUMN_NOTE = " (column "


def describe_error(error: RecordError) -> str:
    """One error line: file, place, record id, field, message.

    A mapped field carries its source column, and quoting the whole of it would print
    ``'response (column 'out')'``; only the field name is quoted.
    """
    where = f"{error.source}:{error.location}"
    rid = f" (id {error.record_id})" if error.record_id else ""
    fld = ""
    if error.field:
        name, note, column = error.field.partition(_COLUMN_NOTE)
        fld = f" field '{name}'" + (f"{note}{column}" if note else "")
    return f"{where}{rid}{fld}: {error.message}"


def render_report(
    out: Console, err: Console, report: IngestReport, *, kind: str, show_errors: int
) -> None:
    noun = {
        "responses": "responses",
        "feedback": "feedback events",
        "labelled": "labelled responses",
    }[kind]
    parts = [
        f"read {report.read:,}",
        f"stored {report.stored:,}",
        f"duplicates {report.duplicates:,}",
    ]
    if report.conflicts:
        parts.append(f"conflicts {report.conflicts:,}")
    if report.invalid:
        parts.append(f"invalid {report.invalid:,}")
    if report.unknown_response:
        parts.append(f"unknown response id {report.unknown_response:,}")
    if kind == "labelled":
        parts.append(f"labels stored {report.labels_stored:,}")
        if report.rekeyed:
            parts.append(f"re-keyed {report.rekeyed:,} (id reused for other content: ID#hash)")
    out.print(f"[bold]Ingest {noun}:[/] " + ", ".join(parts), highlight=False)
    if report.redactions:
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(report.redactions.items()))
        out.print(f"  PII redacted: {shown}", highlight=False)
    if report.rolled_back:
        err.print("[bold red]--strict: a record was rejected, so nothing was stored.[/]")
    for error in report.errors[:show_errors]:
        err.print(f"  ✗ {describe_error(error)}", highlight=False, markup=False, soft_wrap=True)
    hidden = len(report.errors) - show_errors
    if hidden > 0:
        err.print(f"  … and {hidden:,} more (use --errors-file to see all)", highlight=False)


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def render_summary(console: Console, summary: StoreSummary, *, store: str) -> None:
    span = ""
    if summary.first_at and summary.last_at:
        span = f" from {summary.first_at:%Y-%m-%d} to {summary.last_at:%Y-%m-%d}"
    console.print(
        f"\n[bold]Store[/] {store}: {count(summary.responses, 'response')}{span}", highlight=False
    )
    outcome_names = sorted({o for m in summary.models for o in m.outcomes})
    table = Table(
        title="Responses by model",
        title_justify="left",
        caption=(
            "outcome known: share of responses with a business outcome (at capture or a later "
            "event); the columns after it: each outcome's share of those"
            if outcome_names
            else None
        ),
        caption_justify="left",
    )
    columns = ["model", "responses", "mean\nms", "p95\nms", "cost\nUSD", "mean\nconfidence"]
    if outcome_names:
        columns.append("outcome\nknown")
    for column in columns + outcome_names:
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True)
    for m in summary.models:
        known = sum(m.outcomes.values())
        shares = [f"{m.outcomes.get(o, 0) / known:.0%}" if known else "–" for o in outcome_names]
        if outcome_names:
            shares.insert(0, f"{known / m.responses:.0%}" if m.responses else "–")
        table.add_row(
            m.model_id,
            f"{m.responses:,}",
            _fmt(m.mean_latency_ms, ",.0f"),
            _fmt(m.p95_latency_ms, ",.0f"),
            _fmt(m.total_cost, ",.2f"),
            _fmt(m.mean_confidence, ".2f"),
            *shares,
        )
    console.print(table)
    by_count = sorted(summary.intents.items(), key=lambda kv: -kv[1])
    _listing(console, "Intents", [f"{k} {v:,}" for k, v in by_count])
    by_count = sorted(summary.tenants.items(), key=lambda kv: -kv[1])
    _listing(console, "Tenants", [f"{k} {v:,}" for k, v in by_count])
    _listing(console, "Feedback", [f"{k} {v:,}" for k, v in sorted(summary.feedback.items())])
    for head, values in sorted(summary.labels.items()):
        console.print(
            f"Labels {head}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(values.items())),
            highlight=False,
        )


def summary_as_dict(summary: StoreSummary) -> dict[str, Any]:
    """The summary as JSON-ready values; times in ISO 8601 (``2026-11-02T00:56:06+00:00``)."""
    data = asdict(summary)
    for key in ("first_at", "last_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def _listing(console: Console, label: str, items: list[str]) -> None:
    """``label: a 1, b 2, …`` wrapped between items, never inside one ("medical_question 116"
    split over two lines reads as two things)."""
    if not items:
        return
    lines, line = [], f"{label}: {items[0]}"
    for item in items[1:]:
        if len(line) + 2 + len(item) > console.width:
            lines.append(line + ",")
            line = "  " + item
        else:
            line += ", " + item
    for text in [*lines, line]:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
