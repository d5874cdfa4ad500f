"""The ``evalkit`` command: a thin Typer adapter over the stages.

Each command parses its options, calls one function of a stage, and renders the result. Domain
errors are translated to messages and exit codes once, in ``evalkit.cli.context``:

- 0: everything was stored (or there was nothing to do)
- 1: some records were rejected (invalid, conflicting, or pointing at an unknown response)
- 2: usage error (bad option, unknown format, missing file)
- 3: the store cannot be reached or is at an unusable schema revision

This module holds the root app, its global options and ``main`` (the console script); the
commands live in one module per group and are registered below in the order ``--help`` lists
them.

``evalkit --help`` imports every command module, so a command module imports only typer, rich,
``evalkit.cli.context`` and ``evalkit.errors`` at its top, and everything else (settings, the
store, a stage, numpy, torch, ...) inside the command function that uses it;
``tests/capture/test_import_cost.py`` checks it for every module in this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit import __version__
from evalkit.cli.context import EXIT_USAGE, console, print_error, state
from evalkit.cli.demo import demo
from evalkit.cli.gate import gate_app
from evalkit.cli.golden import golden_app
from evalkit.cli.ingest import ingest, labels_app
from evalkit.cli.labelstudio import labelstudio_app
from evalkit.cli.learn import classifiers_app, score, train
from evalkit.cli.review import agreement, queue_app, reviewers_app, sample
from evalkit.cli.serve import serve
from evalkit.cli.store_admin import db_app, purge, summary
from evalkit.cli.watch import report, watch_app

app = typer.Typer(
    name="evalkit",
    help="Capture, review and gate the quality of LLM outputs in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(labels_app, name="labels")
app.add_typer(gate_app, name="gate")
app.add_typer(golden_app, name="golden")
app.add_typer(reviewers_app, name="reviewers")
app.add_typer(queue_app, name="queue")
app.add_typer(labelstudio_app, name="labelstudio")
app.add_typer(watch_app, name="watch")
app.add_typer(classifiers_app, name="classifiers")
app.command()(ingest)
app.command()(demo)
app.command()(summary)
app.command()(purge)
app.command()(sample)
app.command()(agreement)
app.command()(train)
app.command()(score)
app.command()(serve)
app.command()(report)


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
    # Here rather than at the top: `evalkit --help` never needs the settings (pydantic).
    from evalkit.settings import SettingsError, load_settings

    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir:
        overrides["data_dir"] = data_dir
    try:
        state.settings = load_settings(**overrides)
    except SettingsError as exc:
        for problem in exc.problems:
            print_error(problem)
        raise typer.Exit(EXIT_USAGE) from None


def main() -> None:
    app()
