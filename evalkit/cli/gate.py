"""``evalkit gate``: run golden-set suites against a candidate and exit 0 (passed) or 1 (failed).

``evalkit gate SUITE... --outputs FILE`` is ``evalkit gate run ...``: the group forwards
anything that is not one of its subcommands to ``run``, so the short form in CI files works
while ``evalkit gate align`` stays a command of its own. Exit codes: 0 passed, 1 failed,
2 usage or suite error, 3 the store cannot be reached (only for commands that need it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from evalkit.cli.context import (
    EXIT_REJECTED,
    EXIT_USAGE,
    console,
    err_console,
    open_db,
    print_error,
    state,
    translate_errors,
)
from evalkit.errors import StoreError, UsageError

if TYPE_CHECKING:
    from evalkit.gate import GateResult, OutputSet, Suite


class _RunByDefault(TyperGroup):
    """``evalkit gate a.yaml ...`` means ``evalkit gate run a.yaml ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


gate_app = typer.Typer(
    cls=_RunByDefault,
    help="Golden-set regression gates: `evalkit gate SUITE... --outputs FILE`.",
    no_args_is_help=True,
)


@gate_app.command("run")
@translate_errors
def gate_run(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", show_default=False)],
    outputs: Annotated[
        Path | None, typer.Option("--outputs", help="Recorded outputs (JSONL) of the candidate.")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="OpenAI-compatible base URL to call for outputs."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name (--endpoint).")] = None,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
    ] = "OPENAI_API_KEY",
    call: Annotated[
        str | None, typer.Option("--callable", help="module:function producing outputs.")
    ] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=100, help="Runs per case.")] = 1,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256)] = 8,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per call.")] = 60.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=10)] = 2,
    save_outputs_to: Annotated[
        Path | None,
        typer.Option("--save-outputs", help="Where a live run's outputs go (default: data dir)."),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline outputs (JSONL), re-judged now.")
    ] = None,
    candidate: Annotated[
        str | None, typer.Option("--candidate", help="Candidate name (default: file or model).")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    markdown_path: Annotated[
        Path | None, typer.Option("--markdown", help="Write the Markdown (PR comment) report.")
    ] = None,
    pass_rate: Annotated[
        float | None, typer.Option("--pass-rate", min=0, max=1, help="Override the suites'.")
    ] = None,
    max_drop: Annotated[float | None, typer.Option("--max-drop", min=0, max=1)] = None,
    tag_rates: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            metavar="TAG=RATE",
            help="Pass-rate floor for a tag (repeatable); replaces the suite's for that tag.",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", min=0, max=1, help="McNemar significance level (0.05)."),
    ] = None,
    classifier: Annotated[
        str | None, typer.Option("--classifier", help="Guard artifact for `risk` assertions.")
    ] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in the store.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line.")] = False,
) -> None:
    """Judge a candidate on golden suites; exit 0 if every suite passes, 1 if one fails."""
    from evalkit.gate import load_outputs, load_suites, run_gate

    sources = [s for s in (outputs, endpoint, call) if s is not None]
    if len(sources) != 1:
        raise UsageError("give exactly one of --outputs FILE, --endpoint URL, --callable M:F")
    loaded = _load_suites(load_suites, suites)
    if outputs is not None:
        output_set = load_outputs(outputs, name=candidate)
        if repeat != 1:
            raise UsageError(
                "--repeat applies to --endpoint and --callable; a recorded file "
                "holds its repeats as several lines per id"
            )
    else:
        output_set = _produce(
            loaded,
            endpoint,
            model,
            api_key_env,
            call,
            repeat,
            concurrency,
            timeout,
            retries,
            save_outputs_to,
            candidate,
        )
    base = load_outputs(baseline) if baseline is not None else None
    overrides = {
        "pass_rate": pass_rate,
        "max_drop": max_drop,
        "alpha": alpha,
        "tags": _tag_floors(tag_rates or []) or None,
    }
    if classifier is None and _uses(loaded, "risk"):
        classifier = _active_classifier()
    results = run_gate(
        loaded, output_set, baseline=base, overrides=overrides, options=_options(classifier)
    )
    _write_reports(results, junit, json_path, markdown_path)
    _render(results, quiet=quiet)
    if record:
        _record(results)
    if not all(g.passed for g in results):
        raise typer.Exit(EXIT_REJECTED)


def _tag_floors(pairs: list[str]) -> dict[str, float]:
    """``--tag refund=0.98 --tag safety=1`` → ``{"refund": 0.98, "safety": 1.0}``."""
    floors: dict[str, float] = {}
    for pair in pairs:
        tag, sep, value = pair.partition("=")
        tag = tag.strip()
        try:
            floor = float(value)
        except ValueError:
            floor = float("nan")
        if not sep or not tag or not 0.0 <= floor <= 1.0:
            raise UsageError(f"--tag {pair!r}: expected TAG=RATE with a rate from 0 to 1")
        if tag in floors:
            raise UsageError(f"--tag {tag!r} is given twice")
        floors[tag] = floor
    return floors


def _load_suites(load: Any, paths: list[Path]) -> list[Suite]:
    from evalkit.gate import SuiteError

    try:
        return load(paths)
    except SuiteError as exc:
        for problem in exc.problems:
            print_error(problem)
        raise typer.Exit(EXIT_USAGE) from None


def _uses(suites: list[Suite], kind: str) -> bool:
    return any(spec.type == kind for s in suites for c in s.cases for spec in c.asserts)


def _active_classifier() -> str | None:
    """The store's active classifier for `risk` checks when --classifier is not given; None
    (the checks are then skipped with the reason) if there is none or no store."""
    try:
        from evalkit.store.classifiers import active_version
        from evalkit.store.database import Database

        db = Database.open(state.settings.resolved_database_url)
        try:
            row = active_version(db)
        finally:
            db.dispose()
    except (ImportError, StoreError):
        return None
    return str(row["artifact_path"]) if row else None


def _options(classifier: str | None) -> Any:
    from evalkit.gate import JudgeConfig, RunOptions

    s = state.settings
    judge = None
    if s.judge_base_url and s.judge_model:
        key = s.judge_api_key.get_secret_value() if s.judge_api_key else None
        judge = JudgeConfig(base_url=s.judge_base_url, model=s.judge_model, api_key=key)
    return RunOptions(judge=judge, classifier=classifier)


def _produce(
    suites: list[Suite],
    endpoint: str | None,
    model: str | None,
    api_key_env: str,
    call: str | None,
    repeat: int,
    concurrency: int,
    timeout: float,
    retries: int,
    save_to: Path | None,
    candidate: str | None,
) -> OutputSet:
    """Call the endpoint or callable, save what it answered, return it as the candidate."""
    from datetime import UTC, datetime

    from evalkit.gate import OutputSet, save_outputs
    from evalkit.gate.runners import EndpointConfig, load_callable, run_callable, run_endpoint

    if endpoint is not None:
        if not model:
            raise UsageError("--endpoint needs --model NAME")
        config = EndpointConfig(
            url=endpoint,
            model=model,
            api_key=os.environ.get(api_key_env) or None,
            concurrency=concurrency,
            timeout_s=timeout,
            retries=retries,
        )
        rows = run_endpoint(suites, config, repeat=repeat)
        name = candidate or model
    else:
        assert call is not None
        rows = run_callable(suites, load_callable(call), repeat=repeat)
        name = candidate or call
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    path = save_to or state.settings.data_dir / "gate" / "outputs" / f"{safe}-{stamp}.jsonl"
    save_outputs(path, rows)
    failed = sum(row.output is None for row in rows)
    console.print(
        f"Outputs: {len(rows):,} from {name} → {path}"
        + (f" ([red]{failed:,} calls failed[/])" if failed else ""),
        highlight=False,
    )
    return OutputSet(name=name, source=str(path), rows=tuple(rows))


def _write_reports(
    results: list[GateResult], junit: Path | None, json_path: Path | None, md: Path | None
) -> None:
    from evalkit.gate.report import junit_xml, markdown, report_json

    for path, render in ((junit, junit_xml), (json_path, report_json), (md, markdown)):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(results), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report {path}: {exc.strerror}") from None


def _record(results: list[GateResult]) -> None:
    """Record every suite's run; a store that cannot be reached does not change the verdict."""
    from evalkit.gate.run import record_runs_at

    try:
        record_runs_at(state.settings.resolved_database_url, results)
    except StoreError as exc:
        err_console.print(f"[yellow]warning:[/] the run was not recorded: {exc}", highlight=False)


def _render(results: list[GateResult], *, quiet: bool) -> None:
    from rich.markup import escape

    for g in results:
        mark = "[bold green]PASSED[/]" if g.passed else "[bold red]FAILED[/]"
        console.print(
            f"{mark} {escape(g.suite.name)} — candidate {escape(g.candidate)}: "
            f"pass rate {g.overall}",
            highlight=False,
        )
        if quiet:
            continue
        for rule in g.rules:
            sign = "[green]✓[/]" if rule.passed else "[red]✗[/]"
            console.print(f"  {sign} {escape(rule.name)}: {escape(rule.detail)}", highlight=False)
        failing = [r for r in g.results if r.verdict is False]
        for r in failing[:10]:
            why = escape("; ".join(r.reasons())[:200])
            flag = " [bold](critical)[/]" if r.case.critical else ""
            console.print(f"    ✗ {escape(r.case.id)}{flag}: {why}", highlight=False)
        if len(failing) > 10:
            console.print(f"    … and {len(failing) - 10} more failing (see --json)")
        for r in g.skipped[:5]:
            why = escape("; ".join(r.reasons())[:200])
            console.print(f"    [yellow]skipped[/] {escape(r.case.id)}: {why}", highlight=False)
        if len(g.skipped) > 5:
            console.print(f"    … and {len(g.skipped) - 5} more skipped (see --json)")
        if g.flaky:
            ids = ", ".join(r.case.id for r in g.flaky[:10])
            console.print(f"  [yellow]flaky[/] ({len(g.flaky)}): {escape(ids)}", highlight=False)
        for warning in g.warnings:
            # Not wrapped: a warning names files, and a path broken over lines cannot be copied.
            console.print(
                f"  [yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
            )
    ok = all(g.passed for g in results)
    console.print(
        f"[bold]Gate {'passed' if ok else 'failed'}[/] "
        f"({sum(g.passed for g in results)}/{len(results)} suites passed)",
        highlight=False,
    )


@gate_app.command("history")
@translate_errors
def gate_history(
    suite: Annotated[str | None, typer.Option("--suite", help="Only this suite.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
) -> None:
    """Recorded gate runs, newest first: suite, candidate, baseline, verdict, pass rate."""
    from evalkit.store.gate_runs import gate_runs

    for run in gate_runs(open_db(), suite=suite, limit=limit):
        rate = (run.summary.get("overall") or {}).get("pass_rate")
        shown = f"{rate:.1%}" if isinstance(rate, float) else "–"
        console.print(
            f"{run.started_at:%Y-%m-%d %H:%M} {'passed' if run.passed else 'FAILED':6} "
            f"{run.suite}  {run.candidate}  vs {run.baseline or '–'}  pass rate {shown}",
            highlight=False,
            markup=False,
        )


@gate_app.command("align")
@translate_errors
def gate_align(
    spec: Annotated[
        str,
        typer.Option(
            "--assert",
            help="The check: a type (refusal) or {type, value, threshold} in YAML/JSON.",
        ),
    ],
    head: Annotated[
        str,
        typer.Option("--head", help="Human label to compare with: hallucination|harm|impolite."),
    ],
    threshold: Annotated[float | None, typer.Option("--threshold")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    classifier: Annotated[
        str | None, typer.Option("--classifier", help="Guard artifact for `risk` checks.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Agreement of a check with reviewers' final labels: confusion, precision, recall, kappa."""
    import json
    import sys

    from evalkit.gate.align import align, describe, parse_spec

    result = align(
        open_db(),
        parse_spec(spec, threshold),
        head,
        tenant=tenant,
        limit=limit,
        options=_options(classifier),
    )
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
        return
    for line in describe(result):
        console.print(line, highlight=False, markup=False)
