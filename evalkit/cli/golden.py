"""``evalkit golden``: look after golden suites — check them, grow them from review, export them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.context import console, open_db, translate_errors

golden_app = typer.Typer(
    help="Golden suites: check, add reviewed failures, export.", no_args_is_help=True
)


@golden_app.command("check")
@translate_errors
def golden_check(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", show_default=False)],
) -> None:
    """Validate suites without running them (exit 2 with every problem if one is broken)."""
    from evalkit.cli.gate import _load_suites
    from evalkit.gate import load_suites

    for suite in _load_suites(load_suites, suites):
        critical = sum(c.critical for c in suite.cases)
        console.print(
            f"{suite.path}: {suite.name}: {len(suite.cases):,} cases ({critical} critical), "
            f"{sum(len(c.asserts) for c in suite.cases):,} assertions",
            highlight=False,
            markup=False,
        )


@golden_app.command("add-from-review")
@translate_errors
def golden_add_from_review(
    suite: Annotated[Path, typer.Option("--suite", help="Suite to append to (created if absent).")],
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head", help="Failure heads to take (default: hallucination, harm, impolite)."
        ),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the cases, write nothing.")
    ] = False,
) -> None:
    """Turn reviewed production failures into golden cases: the reviewer's correction becomes
    the reference, their note the description."""
    import yaml

    from evalkit.errors import UsageError
    from evalkit.gate.from_review import FAILURE_HEADS, add_to_suite, cases_from_review

    heads = tuple(head or FAILURE_HEADS)
    unknown = sorted(set(heads) - set(FAILURE_HEADS))
    if unknown:
        raise UsageError(f"--head {', '.join(unknown)}: heads are {', '.join(FAILURE_HEADS)}")
    cases = cases_from_review(open_db(), heads=heads, tenant=tenant, limit=limit)
    if dry_run:
        console.print(yaml.safe_dump(cases, sort_keys=False, allow_unicode=True), markup=False)
        return
    if not cases:
        console.print("No reviewed failures with a final label: nothing to add.")
        return
    added, present = add_to_suite(suite, cases)
    console.print(
        f"Added {added:,} case(s) to {suite} ({present:,} already there). Review them: the "
        "`risk` checks are skipped until the gate is given --classifier.",
        highlight=False,
    )


@golden_app.command("export-deepeval")
@translate_errors
def golden_export_deepeval(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="JSON file of deepeval goldens.")],
    outputs: Annotated[
        Path | None, typer.Option("--outputs", help="Recorded outputs: fills actual_output.")
    ] = None,
) -> None:
    """Write a suite as deepeval goldens (EvaluationDataset.add_goldens_from_json_file reads it)."""
    from evalkit.cli.gate import _load_suites
    from evalkit.gate import load_outputs, load_suites
    from evalkit.gate.export import write_goldens

    (loaded,) = _load_suites(load_suites, [suite])
    n = write_goldens(out, loaded, load_outputs(outputs) if outputs else None)
    console.print(f"Wrote {n:,} goldens of {loaded.name} → {out}", highlight=False)
