"""The ``evalkit`` command: a thin Typer adapter over the stages.

Each command parses its options, calls one function of a stage, and renders the result. Domain
errors are translated to messages and exit codes here, once:

- 0: everything was stored (or there was nothing to do)
- 1: some records were rejected (invalid, conflicting, or pointing at an unknown response)
- 2: usage error (bad option, unknown format, missing file)
- 3: the store cannot be reached or is at an unusable schema revision
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from rich.console import Console

from evalkit import __version__
from evalkit.errors import EvalkitError, StoreError, UsageError
from evalkit.settings import Settings

if TYPE_CHECKING:
    from evalkit.capture.ingest import Kind
    from evalkit.store.database import Database

EXIT_REJECTED, EXIT_USAGE, EXIT_STORE = 1, 2, 3

app = typer.Typer(
    name="evalkit",
    help="Capture, review and gate the quality of LLM outputs in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Store schema: migrate and inspect.", no_args_is_help=True)
labels_app = typer.Typer(help="Human labels: import labelled datasets.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(labels_app, name="labels")

# Piped output (CI logs, files) gets a width that fits the summary table, not 80 columns.
console = Console(width=None if Console().is_terminal else 120)
err_console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 120)


class State:
    settings: Settings


state = State()


def _version(value: bool) -> None:
    if value:
        console.print(f"evalkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="EVALKIT_DATABASE_URL",
            help="SQLAlchemy URL of the store (default: SQLite in the data dir).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="EVALKIT_DATA_DIR",
            help="Where the SQLite store and demo files live.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir:
        overrides["data_dir"] = data_dir
    try:
        state.settings = Settings(**overrides)
    except ValueError as exc:
        _fail(f"invalid setting: {exc}", EXIT_USAGE)


def _fail(message: str, code: int) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _open_db() -> Database:
    from evalkit.store.database import Database

    try:
        return Database.open(state.settings.resolved_database_url)
    except StoreError as exc:
        _fail(str(exc), EXIT_STORE)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Translate domain errors raised inside a command into messages and exit codes."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            _fail(str(exc), EXIT_USAGE)
        except StoreError as exc:
            _fail(str(exc), EXIT_STORE)
        except EvalkitError as exc:
            _fail(str(exc), EXIT_REJECTED)

    return wrapper


# -- ingest -----------------------------------------------------------------------------------


@app.command()
@_guard
def ingest(
    files: Annotated[list[Path], typer.Argument(help="JSONL, CSV or Parquet files (.gz too).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl | csv | parquet (default: by extension).")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN: read an evalkit field from another column "
            "(dotted paths reach into nested JSON). Repeatable.",
        ),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="responses | feedback")] = "responses",
    strict: Annotated[
        bool, typer.Option("--strict", help="Store nothing if any record is rejected.")
    ] = False,
    no_redact: Annotated[
        bool, typer.Option("--no-redact", help="Store text as given (PII redaction off).")
    ] = False,
    errors_file: Annotated[
        Path | None,
        typer.Option("--errors-file", help="Write every rejected record's error here (JSONL)."),
    ] = None,
    show_errors: Annotated[int, typer.Option("--show-errors", help="Errors printed at most.")] = 20,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Validate, redact, de-duplicate and store production responses or late feedback."""
    from evalkit.capture.ingest import IngestOptions, parse_mapping

    if kind not in ("responses", "feedback"):
        raise UsageError(f"--kind must be responses or feedback, got {kind!r}")
    options = IngestOptions(
        kind=cast("Kind", kind), fmt=fmt, mapping=parse_mapping(mapping or []), strict=strict
    )
    _run_ingest(
        files,
        options,
        no_redact=no_redact,
        errors_file=errors_file,
        show_errors=show_errors,
        quiet=quiet,
    )


@labels_app.command("import")
@_guard
def labels_import(
    files: Annotated[
        list[Path], typer.Argument(help="Labelled-response interchange files (JSONL).")
    ],
    source: Annotated[str, typer.Option("--source", help="Who the labels are attributed to.")],
    no_redact: Annotated[bool, typer.Option("--no-redact", help="PII redaction off.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Store nothing if any record is rejected.")
    ] = False,
    errors_file: Annotated[Path | None, typer.Option("--errors-file")] = None,
    show_errors: Annotated[int, typer.Option("--show-errors")] = 20,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Import responses with human labels (the labelled-response interchange format)."""
    from evalkit.capture.ingest import IngestOptions

    if not source.strip():
        raise UsageError("--source must name who made the labels")
    options = IngestOptions(kind="labelled", label_source=source.strip(), strict=strict)
    _run_ingest(
        files,
        options,
        no_redact=no_redact,
        errors_file=errors_file,
        show_errors=show_errors,
        quiet=quiet,
    )


def _run_ingest(
    files: list[Path],
    options: Any,
    *,
    no_redact: bool,
    errors_file: Path | None,
    show_errors: int,
    quiet: bool,
) -> None:
    from evalkit.capture.ingest import Ingestor
    from evalkit.cli_render import progress_bar, render_report

    settings = (
        state.settings.model_copy(update={"redact_enabled": False}) if no_redact else state.settings
    )
    db = _open_db()
    ingestor = Ingestor(db, settings, options)
    with progress_bar(console, disable=quiet) as progress:
        report = ingestor.ingest_files(files, progress=progress)
    render_report(console, err_console, report, kind=options.kind, show_errors=show_errors)
    if errors_file is not None:
        with errors_file.open("w", encoding="utf-8") as fh:
            for e in report.errors:
                fh.write(
                    json.dumps(
                        {
                            "source": e.source,
                            "location": e.location,
                            "field": e.field,
                            "id": e.record_id,
                            "message": e.message,
                        }
                    )
                    + "\n"
                )
    if report.errors:
        raise typer.Exit(EXIT_REJECTED)


# -- demo -------------------------------------------------------------------------------------

DEMO_START = datetime(2026, 11, 2, tzinfo=UTC)


@app.command()
@_guard
def demo(
    n: Annotated[
        int, typer.Option("--n", min=10, max=1_000_000, help="Responses to generate.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same traffic.")] = 7,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the demo files (default: DATA_DIR/demo)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Generate deterministic synthetic production traffic, ingest it and print a summary."""
    import numpy as np

    from evalkit.capture.demo import generate_demo, write_demo
    from evalkit.capture.ingest import IngestOptions, Ingestor
    from evalkit.cli_render import progress_bar, render_report, render_summary
    from evalkit.store.reports import summarize

    target = out or state.settings.data_dir / "demo"
    traffic = generate_demo(n, rng=np.random.default_rng(seed), start=DEMO_START)
    paths = write_demo(traffic, target)
    console.print(
        f"Demo traffic: {len(traffic.responses):,} responses, "
        f"{len(traffic.feedback):,} feedback events → {target}"
    )
    db = _open_db()
    failed = False
    steps: tuple[tuple[Kind, Path], ...] = (
        ("responses", paths["responses"]),
        ("feedback", paths["feedback"]),
    )
    for kind, path in steps:
        with progress_bar(console, disable=quiet) as progress:
            ingestor = Ingestor(db, state.settings, IngestOptions(kind=kind))
            report = ingestor.ingest_files([path], progress=progress)
        render_report(console, err_console, report, kind=kind, show_errors=5)
        failed = failed or bool(report.errors)
    render_summary(console, summarize(db), store=state.settings.resolved_database_url)
    if failed:
        raise typer.Exit(EXIT_REJECTED)


# -- summary, purge, db -----------------------------------------------------------------------


@app.command()
@_guard
def summary(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What the store holds: responses per model, latency, cost, outcomes, feedback, labels."""
    from evalkit.cli_render import render_summary, summary_as_dict
    from evalkit.store.reports import summarize

    result = summarize(_open_db())
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


@app.command()
@_guard
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
    result = purge_before(_open_db(), cutoff, keep_labelled=keep_labelled, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    console.print(
        f"{verb} {result.responses:,} responses created before {cutoff:%Y-%m-%d %H:%M} UTC "
        f"({result.feedback:,} feedback events, {result.labels:,} labels, "
        f"{result.review_items:,} review items)."
    )


@db_app.command("upgrade")
@_guard
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
@_guard
def db_current() -> None:
    """Print the store's schema revision and the one this evalkit needs."""
    from evalkit.store.database import current_revision, head_revision, make_engine

    try:
        current = current_revision(make_engine(state.settings.resolved_database_url))
    except Exception as exc:
        raise StoreError(f"cannot open the store: {exc}") from exc
    console.print(f"current: {current or '(empty)'}  head: {head_revision()}")


# -- serve ------------------------------------------------------------------------------------


@app.command()
@_guard
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (local use only).")
    ] = False,
) -> None:
    """Run the HTTP API (POST /v1/responses, POST /v1/feedback, ...)."""
    import uvicorn

    from evalkit.api.app import create_app

    if state.settings.api_token is None and not no_auth:
        raise UsageError(
            "set EVALKIT_API_TOKEN (clients send it as a bearer token) or pass --no-auth"
        )
    uvicorn.run(create_app(state.settings, require_auth=not no_auth), host=host, port=port)


def main() -> None:
    app()
