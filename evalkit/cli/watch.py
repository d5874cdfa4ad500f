"""``evalkit watch`` (evaluate the rules once: exit 1 when anything is red), ``evalkit watch
compare`` (two models, versions or prompt versions) and ``evalkit report`` (static HTML)."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from evalkit.cli.context import EXIT_REJECTED, console, open_db, state, translate_errors
from evalkit.errors import UsageError

COLOURS = {"green": "green", "yellow": "yellow", "red": "bold red", "insufficient": "dim"}

watch_app = typer.Typer(
    help="Quality index: evaluate the watch rules once (exit 1 when anything is red).",
    invoke_without_command=True,
)

RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", help="YAML rules file (default: EVALKIT_WATCH_RULES, built-ins)."),
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="Evaluate as of this ISO time (default: the newest response)."),
]


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at: expected an ISO 8601 time, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _num(value: float, metric: str) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.1%}" if metric.endswith(("_rate", "_drop", "_gap")) else f"{value:.3g}"


@watch_app.callback()
@translate_errors
def watch(
    ctx: typer.Context,
    rules: RulesOpt = None,
    at: AtOpt = None,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="Send alerts to the webhook.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List green and insufficient cells too.")
    ] = False,
) -> None:
    """Evaluate the rules once (for cron and CI), store and send alerts, print the lights."""
    if ctx.invoked_subcommand is not None:
        return
    from evalkit.watch.run import evaluate_rules

    run = evaluate_rules(open_db(), state.settings, rules, at=_at(at), notify=notify)
    if as_json:
        rows = [
            {**s.__dict__, "held_for": s.held_for.total_seconds(), "key": s.key} for s in run.states
        ]
        payload = {
            "at": run.at.isoformat(),
            "states": rows,
            "closed": run.closed,
            "notes": run.notes,
        }
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        table = Table(title=f"Quality index as of {run.at:%Y-%m-%d %H:%M} UTC")
        for column in ("state", "rule", "cell", "value", "95% interval", "n", "why", "action"):
            table.add_column(column, overflow="fold")
        order = {"red": 0, "yellow": 1, "insufficient": 2, "green": 3}
        for s in sorted(run.states, key=lambda s: (order[s.state], s.rule, s.cell)):
            if not show_all and s.state in ("green", "insufficient"):
                continue
            interval = (
                f"{_num(s.low, s.metric)} – {_num(s.high, s.metric)}"
                if not math.isnan(s.low)
                else ""
            )
            table.add_row(
                f"[{COLOURS[s.state]}]{s.state}[/]", escape(s.rule),
                escape(f"{s.by or 'all'}={s.cell}"), _num(s.value, s.metric), interval,
                str(s.n), escape(s.reason), escape(s.action),
            )  # fmt: skip
        console.print(table)
        counts = {k: sum(s.state == k for s in run.states) for k in order}
        console.print(
            f"{counts['red']} red, {counts['yellow']} yellow, {counts['green']} green, "
            f"{counts['insufficient']} without enough data; {len(run.opened)} open alerts, "
            f"{len(run.closed)} closed now" + ("" if show_all else " (--all lists every cell)")
        )
        for line in run.deliveries:
            console.print(f"webhook: {escape(line)}")
        for note in run.notes:
            console.print(f"note: {escape(note)}", highlight=False)
    if run.red:
        raise typer.Exit(EXIT_REJECTED)


@watch_app.command()
@translate_errors
def compare(
    a: Annotated[str, typer.Argument(help="Baseline value, e.g. swift-mini-0.9.4.")],
    b: Annotated[str, typer.Argument(help="Candidate value, e.g. swift-mini-0.9.5.")],
    by: Annotated[
        str, typer.Option("--by", help="model_id, model_version or prompt_version (or intent…).")
    ] = "model_version",
    since: Annotated[str | None, typer.Option("--since", help="ISO time; default: all.")] = None,
) -> None:
    """Rate differences B − A with 95% intervals and a test: compare before rolling out."""
    from evalkit.watch.compare import compare_groups
    from evalkit.watch.data import DIMENSIONS, HEADS, load

    if by not in DIMENSIONS:
        raise UsageError(f"--by: expected one of {', '.join(DIMENSIONS)} (got {by!r})")
    data = load(open_db(), since=_at(since))
    table = Table(title=f"{by}: {b} − {a}")
    for column in ("rate", f"{a}", f"{b}", "difference", "95% interval", "p", "verdict"):
        table.add_column(escape(column))
    for head in HEADS:
        sample = data.sample(head)
        if sample.empty:
            table.add_row(head, "–", "–", "–", "", "", "no labelled items")
            continue
        d = compare_groups(sample, by, a, b)
        if d.a.empty or d.b.empty:
            verdict = "no labelled items for " + (a if d.a.empty else b)
        elif d.significant:
            verdict = "[bold red]worse[/]" if d.diff > 0 else "[green]better[/]"
        else:
            verdict = "no significant difference"
        table.add_row(
            f"{head}_rate", f"{_num(d.a.estimate, '_rate')} (n={d.a.n})",
            f"{_num(d.b.estimate, '_rate')} (n={d.b.n})", f"{d.diff:+.1%}" if d.a.n and d.b.n
            else "–", f"{d.low:+.1%} – {d.high:+.1%}", f"{d.p_value:.3g}", verdict,
        )  # fmt: skip
    console.print(table)


@translate_errors
def report(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    rules: RulesOpt = None,
    at: AtOpt = None,
) -> None:
    """A self-contained static HTML report of the quality index (no external requests).

    The report records nothing: alerts are opened and closed by ``evalkit watch`` only."""
    from evalkit.watch.report import write_report
    from evalkit.watch.rules import load_rules
    from evalkit.watch.run import rules_path

    rule_list = load_rules(rules_path(state.settings, rules))
    run = write_report(open_db(), state.settings, rule_list, out, at=_at(at))
    size = out.stat().st_size
    console.print(f"Report: {out} ({size / 1024:.0f} KiB, {len(run.red)} red)")
