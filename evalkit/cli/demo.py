"""``evalkit demo``: a first run with nothing of your own, from generated traffic to a summary.

Kept apart from ``ingest`` because it writes files, ingests two kinds in order and renders the
store summary: a walkthrough, not a building block.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evalkit.cli.context import (
    EXIT_REJECTED,
    console,
    err_console,
    open_db,
    state,
    translate_errors,
)

if TYPE_CHECKING:
    from evalkit.capture.ingest import Kind

DEMO_START = datetime(2026, 11, 2, tzinfo=UTC)


@translate_errors
def demo(
    n: Annotated[
        int, typer.Option("--n", min=10, max=1_000_000, help="Responses to generate.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same traffic.")] = 7,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write the demo files (default: DATA_DIR/demo/s<SEED>-n<N>)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Generate deterministic synthetic production traffic, ingest it and print a summary."""
    import numpy as np

    from evalkit.capture.ingest import IngestOptions, Ingestor
    from evalkit.cli.render import progress_bar, render_report, render_summary
    from evalkit.demo import demo_run, generate_demo, write_demo
    from evalkit.store.reports import summarize

    # Each (seed, n) is its own traffic, with its own ids and folder: running the demo again with
    # other values adds to the store and keeps every run's ground truth.
    run_name = demo_run(seed, n)
    target = out or state.settings.data_dir / "demo" / run_name.removeprefix("demo-")
    traffic = generate_demo(n, rng=np.random.default_rng(seed), start=DEMO_START, run=run_name)
    paths = write_demo(traffic, target)
    console.print(
        f"Demo traffic: {len(traffic.responses):,} responses, "
        f"{len(traffic.feedback):,} feedback events → {target}"
    )
    db = open_db()
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
