"""``evalkit demo``: the whole loop on the embedded store, with nothing of your own.

Generate traffic → ingest → sample → simulated reviewers label → train → gate → watch, then serve
the reviewer app and the API in the foreground until Ctrl-C (``EVALKIT_DEMO_SERVE=0``: exit
instead). A walkthrough, not a building block: each stage's step calls that stage's public
functions and prints what a new user should look at; ``--until STAGE`` stops early.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evalkit.cli.context import (
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
    from evalkit.store.database import Database

DEMO_START = datetime(2026, 11, 2, tzinfo=UTC)


#: The demo's alert rules: they turn the demo's regressing version and its drift event red.
DEMO_RULES = Path(__file__).resolve().parents[1] / "demo" / "watch_rules.yaml"

#: The loop's stages in order; ``--until`` names the last one to run.
STAGES = ("capture", "review", "learn", "gate", "watch")


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
    until: Annotated[
        str,
        typer.Option(
            "--until", help=f"Last stage to run: {', '.join(STAGES)} (default: the whole loop)."
        ),
    ] = "watch",
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Serve the reviewer app and the API at the end until Ctrl-C "
            "(default: EVALKIT_DEMO_SERVE, true).",
        ),
    ] = None,
    api_port: Annotated[int, typer.Option("--api-port", help="Preferred API port.")] = 8000,
    app_port: Annotated[
        int, typer.Option("--app-port", help="Preferred reviewer-app port.")
    ] = 8501,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run the whole loop on demo data, then serve the reviewer app and the API."""
    if until not in STAGES:
        raise UsageError(f"--until: unknown stage {until!r}; stages: {', '.join(STAGES)}")
    last = STAGES.index(until)
    db = open_db()
    failed, truth = _capture(db, n=n, seed=seed, out=out, quiet=quiet)
    if failed:
        raise typer.Exit(EXIT_REJECTED)
    if last >= STAGES.index("review"):
        _review(db, seed=seed, truth=truth)
    if last >= STAGES.index("learn"):
        _learn(db, seed=seed, run_ids=frozenset(truth))
    if last >= STAGES.index("gate"):
        _gate(db)
    if last >= STAGES.index("watch"):
        _watch(db)
    if serve if serve is not None else state.settings.demo_serve:
        _serve(api_port=api_port, app_port=app_port)


def _capture(
    db: Database, *, n: int, seed: int, out: Path | None, quiet: bool
) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Generate and ingest the traffic; (some record was rejected, the ground truth)."""
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
    return failed, traffic.truth


def _stage(title: str) -> None:
    console.print(f"\n[bold]{title}[/bold]")


def _review(db: Database, *, seed: int, truth: dict[str, dict[str, Any]]) -> None:
    """Sample a queue and let the simulated reviewers label it (once per demo run)."""
    from evalkit.demo.reviewers import create_demo_accounts, simulate_reviews
    from evalkit.review import queue_status

    _stage("Sample and review")
    create_demo_accounts(db)
    queue = f"demo-s{seed}"
    status = queue_status(db, queue=queue)
    if status.done or status.pending or status.in_progress:
        console.print(f"Queue {queue!r} was sampled and reviewed by an earlier run: kept as it is.")
    else:
        report = simulate_reviews(db, state.settings, seed=seed, truth=truth, queue=queue)
        console.print(
            f"Sampled {report.queued:,} responses (stratified by model) and {report.gold_items} "
            f"gold items into queue {queue!r}; simulated reviewers made "
            f"{report.submissions:,} submissions ({report.skips} skips), the adjudicator settled "
            f"{report.adjudicated} disputes; {report.left_for_humans} items are left for you."
        )
        status = queue_status(db, queue=queue)
    console.print(
        f"Queue {queue!r}: {status.pending} pending, {status.done} done, "
        f"{status.disputed} disputed, {status.overdue} overdue."
    )


def _learn(db: Database, *, seed: int, run_ids: frozenset[str]) -> None:
    """Train the risk classifier on the final labels and make it the active one; then the
    classifier chooses what people review next: risk-first and uncertainty samples of this
    run's traffic join the demo queue, beside the suspect labels learn sent back."""
    from evalkit.learn.pipeline import train_demo_classifier
    from evalkit.sample.run import SampleRequest
    from evalkit.sample.run import sample as run_sample
    from evalkit.sample.scoring import score_responses

    _stage("Learn: a calibrated risk classifier from the labels")
    outcome = train_demo_classifier(
        db, state.settings, seed=seed, log=lambda line: console.print(line, markup=False)
    )
    if outcome is None or "hallucination" not in outcome.result.metadata["heads"]:
        return
    console.print(
        f"{outcome.suspects_queued} suspect labels (confident learning) sent back for review"
    )
    queue = f"demo-s{seed}"
    scores, threshold = score_responses(db, sorted(run_ids), "hallucination")
    for strategy, n in (("risk", 15), ("uncertainty", 10)):
        request = SampleRequest(
            strategy, n, queue=queue, seed=seed, threshold=threshold, among=run_ids
        )
        report = run_sample(db, request, scores=scores)
        what = (
            "the riskiest by the hallucination head"
            if strategy == "risk"
            else f"nearest its decision threshold ({threshold:.3f})"
        )
        console.print(
            f"{strategy.capitalize()} sampling queued {report.added} responses into "
            f"{queue!r}: {what}"
        )


def _watch(db: Database) -> None:
    """Evaluate the demo's alert rules once and write the static report."""
    from evalkit.watch.report import write_report
    from evalkit.watch.rules import load_rules
    from evalkit.watch.run import evaluate_rules

    _stage("Watch: the quality index")
    rules = load_rules(DEMO_RULES)
    run = evaluate_rules(db, state.settings, list(rules), notify=False)
    order = {"red": 0, "yellow": 1}
    flagged = sorted((s for s in run.states if s.state in order), key=lambda s: order[s.state])
    for s in flagged[:12]:
        console.print(
            f"  {s.state.upper():<6} {s.rule} [{s.by or 'all'}={s.cell}]: {s.reason}",
            markup=False,
            highlight=False,
        )
    if len(flagged) > 12:
        console.print(f"  … and {len(flagged) - 12} more (evalkit watch --rules {DEMO_RULES})")
    counts = {k: sum(s.state == k for s in run.states) for k in ("red", "yellow", "green")}
    console.print(
        f"{counts['red']} red, {counts['yellow']} yellow, {counts['green']} green; "
        f"{len(run.opened)} open alerts."
    )
    out = state.settings.data_dir / "demo" / "report.html"
    write_report(db, state.settings, list(rules), out)
    console.print(f"Report: {out}")


def _gate(db: Database) -> None:
    """The example suites on a good and a regressed candidate: one passes, one fails."""
    from evalkit.gate.demo import run_demo_gates, summary_lines

    _stage("Gate: golden-set suites in CI")
    gates = run_demo_gates(db, out_dir=state.settings.data_dir / "demo" / "gate")
    for line in summary_lines(gates):
        console.print(line, highlight=False, markup=False)


def _serve(*, api_port: int, app_port: int) -> None:
    """The last step: the reviewer app and the API on loopback until Ctrl-C."""
    import secrets

    from evalkit.cli.foreground import serve_until_interrupted, start_services
    from evalkit.demo.reviewers import DEMO_ACCOUNTS

    settings = state.settings
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    token = token or f"demo-{secrets.token_hex(12)}"
    env = {
        "EVALKIT_DATABASE_URL": settings.resolved_database_url,
        "EVALKIT_DATA_DIR": str(settings.data_dir.resolve()),
        "EVALKIT_API_TOKEN": token,
    }
    console.print("\n[bold]Serving[/bold] (Ctrl-C stops both) …")
    served = start_services(
        env, api_port=api_port, app_port=app_port, log_dir=settings.data_dir / "logs"
    )

    def announce() -> None:
        for item in served:
            console.print(f"  {item.name:<13} {item.url}")
        console.print(f"  API token     {token}  (Authorization: Bearer …)")
        console.print("  Demo logins (local demo only):")
        for username, role, password in DEMO_ACCOUNTS:
            console.print(f"    {role:<12} {username} / {password}")

    why = serve_until_interrupted(served, announce=announce)
    console.print(f"Stopped ({why}).")
