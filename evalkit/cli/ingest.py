"""Commands that bring records into the store from files: ``ingest`` and ``labels import``.

Both run the same ingest pipeline with different options, so they share ``run_ingest``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from evalkit.cli.context import (
    EXIT_INTERRUPTED,
    EXIT_REJECTED,
    console,
    err_console,
    open_db,
    state,
    translate_errors,
)
from evalkit.errors import UsageError

if TYPE_CHECKING:
    from evalkit.capture.ingest import Kind

labels_app = typer.Typer(help="Human labels: import labelled datasets.", no_args_is_help=True)


@translate_errors
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
    from evalkit.capture.ingest import IngestOptions
    from evalkit.capture.mapping import parse_mapping

    if kind not in ("responses", "feedback"):
        raise UsageError(f"--kind must be responses or feedback, got {kind!r}")
    checked_kind = cast("Kind", kind)
    options = IngestOptions(
        kind=checked_kind,
        fmt=fmt,
        mapping=parse_mapping(mapping or [], kind=checked_kind),
        strict=strict,
    )
    run_ingest(
        files,
        options,
        no_redact=no_redact,
        errors_file=errors_file,
        show_errors=show_errors,
        quiet=quiet,
    )


@labels_app.command("import")
@translate_errors
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
    run_ingest(
        files,
        options,
        no_redact=no_redact,
        errors_file=errors_file,
        show_errors=show_errors,
        quiet=quiet,
    )


def run_ingest(
    files: list[Path],
    options: Any,
    *,
    no_redact: bool,
    errors_file: Path | None,
    show_errors: int,
    quiet: bool,
) -> None:
    from evalkit.capture.ingest import Ingestor
    from evalkit.cli.render import count, progress_bar, render_report
    from evalkit.errors import IngestInterrupted
    from evalkit.records import IngestReport

    settings = (
        state.settings.model_copy(update={"redact_enabled": False}) if no_redact else state.settings
    )
    db = open_db()
    try:
        with stop_on_signals() as stop, progress_bar(console, disable=quiet) as progress:
            ingestor = Ingestor(db, settings, options, stop=stop)
            report = ingestor.ingest_files(files, progress=progress)
    except IngestInterrupted as stop:
        report = cast("IngestReport", stop.report)
        render_report(console, err_console, report, kind=options.kind, show_errors=show_errors)
        kept = (
            "nothing was stored (--strict)"
            if options.strict
            else f"{count(report.stored, 'record')} in complete batches stayed stored"
        )
        err_console.print(
            f"Interrupted: {kept}. Run the same command again to store the rest; what is "
            "already stored is not stored twice.",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
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


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C or SIGTERM (a container or job runner stopping the
    ingest): the ingest then stops between two batches, with nothing cut off half-way, and the
    user is told what stayed stored. A second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # handlers can only be set from the main thread (e.g. under a test runner)
        return

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        err_console.print("Stopping after the batch being written…", highlight=False)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
