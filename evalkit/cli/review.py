"""Commands of the review stage: ``sample``, the ``reviewers`` and ``queue`` groups, and
``agreement``. Thin: parse options, call one function of ``evalkit.sample`` or
``evalkit.review``, render. Heavy imports (numpy, sklearn) happen inside the commands."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit.cli.context import console, open_db, state, translate_errors
from evalkit.errors import UsageError

reviewers_app = typer.Typer(help="Reviewer accounts and their tokens.", no_args_is_help=True)
queue_app = typer.Typer(help="The review queue: where it stands, disputes.", no_args_is_help=True)


def parse_when(text: str | None, option: str) -> datetime | None:
    """An ISO date or time (naive = UTC), or an age such as ``7d`` (that long ago)."""
    if text is None:
        return None
    from evalkit.cli.store_admin import parse_age

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.now(UTC) - parse_age(text)
        except UsageError:
            raise UsageError(
                f"{option} expects an ISO date or time (2026-11-02, 2026-11-02T10:00Z) or an age "
                f"such as 7d or 12h; got {text!r}"
            ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _quotas(values: list[str]) -> dict[str, int]:
    out = {}
    for value in values:
        name, sep, count = value.rpartition("=")
        if not sep or not name or not count.isdigit():
            raise UsageError(f"--quota expects STRATUM=N, e.g. model_id=atlas-xl=20; got {value!r}")
        out[name] = int(count)
    return out


@translate_errors
def sample(
    strategy: Annotated[
        str | None, typer.Option(help="random | stratified | risk | uncertainty.")
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="How many responses to queue.")] = None,
    by: Annotated[
        str | None, typer.Option(help="Stratum fields, comma-separated (model_id,intent).")
    ] = None,
    allocation: Annotated[
        str, typer.Option(help="proportional | equal | neyman.")
    ] = "proportional",
    quota: Annotated[
        list[str] | None, typer.Option(help="A fixed count for a stratum: STRATUM=N (repeatable).")
    ] = None,
    queue: Annotated[str, typer.Option(help="Queue to add to.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed: the same seed draws the same sample.")] = 0,
    since: Annotated[str | None, typer.Option(help="created_at from (ISO, or an age: 7d).")] = None,
    until: Annotated[str | None, typer.Option(help="created_at before (ISO, or an age).")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model_id.")] = None,
    intent: Annotated[str | None, typer.Option(help="Only this intent.")] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Uncertainty: the decision threshold (default: the classifier's)."),
    ] = None,
    head: Annotated[
        str,
        typer.Option(
            help="Risk and uncertainty: the classifier head scored; neyman: the head whose "
            "spread is used."
        ),
    ] = "hallucination",
    policy: Annotated[
        Path | None, typer.Option(help="Run a continuous-sampling policy file (YAML) instead.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Choose responses for human review and queue them, with their inclusion probabilities."""
    from evalkit.sample.policy import load_policy, run_policy
    from evalkit.sample.run import SampleRequest
    from evalkit.sample.run import sample as run_sample

    settings = state.settings
    db = open_db()
    if policy is not None:
        if strategy is not None or n is not None:
            raise UsageError("--policy runs the file's rules: leave out --strategy and --n")
        from evalkit.sample.scoring import score_responses

        runs = run_policy(
            db,
            load_policy(policy),
            overlap_share=settings.review_overlap_share,
            overlap_k=settings.review_overlap_k,
            seed=seed,
            scorer=lambda ids, head: score_responses(db, ids, head),
        )
        if as_json:
            sys.stdout.write(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
            return
        for r in runs:
            if r.skipped:
                console.print(f"{r.rule}: skipped: {r.skipped}")
                continue
            console.print(
                f"{r.rule}: considered {r.considered}, selected {r.selected}, "
                f"queued {r.added} new in '{r.queue}'"
                + (f" ({r.periods} period(s))" if r.periods else "")
            )
        return
    if strategy is None or n is None:
        raise UsageError("give --strategy and --n (or --policy FILE)")
    fields = tuple(f.strip() for f in by.split(",") if f.strip()) if by else ()
    request = SampleRequest(
        strategy=strategy,
        n=n,
        queue=queue,
        by=fields,
        allocation=allocation,
        quotas=_quotas(quota or []),
        seed=seed,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
        tenant=tenant,
        model_id=model,
        intent=intent,
        threshold=threshold if threshold is not None else 0.5,
    )
    scores = None
    if strategy in ("risk", "uncertainty"):
        from evalkit.sample.scoring import active_scores

        scores, default_threshold = active_scores(db, head, request)
        if threshold is None:
            request = SampleRequest(**{**asdict(request), "threshold": default_threshold})
    if allocation == "neyman":
        from evalkit.sample.scoring import neyman_spread

        request = SampleRequest(**{**asdict(request), "sd": neyman_spread(db, head, fields)})
    report = run_sample(
        db,
        request,
        scores=scores,
        overlap_share=settings.review_overlap_share,
        overlap_k=settings.review_overlap_k,
    )
    if as_json:
        sys.stdout.write(json.dumps(asdict(report), indent=2) + "\n")
        return
    console.print(
        f"queued {report.added} of {report.population} matching responses in '{report.queue}' "
        f"({report.strategy}; {report.overlap_items} need several reviewers)"
    )
    for name, (size, drawn) in report.strata.items():
        console.print(f"  {name}: {drawn} of {size} (p = {drawn / size:.4f})", highlight=False)


@reviewers_app.command("add")
@translate_errors
def reviewers_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="reviewer | adjudicator | admin.")] = "reviewer",
    tenants: Annotated[
        str | None,
        typer.Option(help="Tenants whose items they see, comma-separated (default: all)."),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in reports.")] = None,
) -> None:
    """Add a reviewer account (then `evalkit reviewers token` or `password`)."""
    from evalkit.review import accounts

    chosen = [t for t in tenants.split(",")] if tenants is not None else None
    who = accounts.add_reviewer(
        open_db(), name, role=role, tenants=chosen, display_name=display_name
    )
    scope = ", ".join(who.tenants) if who.tenants is not None else "all tenants"
    console.print(f"added {who.role} {who.username} ({scope})")


@reviewers_app.command("set")
@translate_errors
def reviewers_set(
    name: Annotated[str, typer.Argument(help="Login name.")],
    tenants: Annotated[
        str | None, typer.Option(help="Tenants whose items they see, comma-separated.")
    ] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Let them see every tenant's items.")
    ] = False,
    role: Annotated[str | None, typer.Option(help="reviewer | adjudicator | admin.")] = None,
    active: Annotated[
        bool | None,
        typer.Option(
            "--active/--inactive",
            help="Reactivate, or deactivate (labels stay).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Change an account: its tenants, role, or whether it may work."""
    from evalkit.review import accounts

    if tenants is not None and all_tenants:
        raise UsageError("give --tenants or --all-tenants, not both")
    if tenants is None and not all_tenants and role is None and active is None:
        raise UsageError("nothing to change: give --tenants, --all-tenants, --role or --inactive")
    db = open_db()
    who = accounts.get_reviewer(db, name)
    if tenants is not None or all_tenants:
        who = accounts.set_tenants(db, name, tenants.split(",") if tenants is not None else None)
    if role is not None:
        who = accounts.set_role(db, name, role)
    if active is not None:
        accounts.set_active(db, name, active)
        who = accounts.get_reviewer(db, name)
    scope = ", ".join(who.tenants) if who.tenants is not None else "all tenants"
    state_ = "active" if who.active else "inactive"
    console.print(f"{who.username}: {who.role}, {scope}, {state_}", highlight=False)


@reviewers_app.command("token")
@translate_errors
def reviewers_token(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Mint a new API token (the previous one stops working); printed alone on the last line."""
    from evalkit.review import accounts

    token = accounts.mint_token(open_db(), name)
    console.print(f"new token for {name} (only its hash is stored; keep it now):", highlight=False)
    sys.stdout.write(token + "\n")


@reviewers_app.command("password")
@translate_errors
def reviewers_password(
    name: Annotated[str, typer.Argument(help="Login name.")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set a reviewer's password for the reviewer app (prompted, or from stdin)."""
    from evalkit.review import accounts

    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    accounts.set_password(open_db(), name, password)
    console.print(f"password set for {name}")


@reviewers_app.command("list")
@translate_errors
def reviewers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every reviewer: role, tenants, whether they have a password, active."""
    from evalkit.review import accounts

    people = accounts.list_reviewers(open_db())
    if as_json:
        sys.stdout.write(json.dumps([asdict(p) for p in people], indent=2) + "\n")
        return
    for p in people:
        scope = ",".join(p.tenants) if p.tenants is not None else "*"
        flags = ("" if p.active else " (inactive)") + (" password" if p.has_password else "")
        console.print(f"{p.username:<20} {p.role:<12} tenants={scope}{flags}", highlight=False)


@queue_app.command("status")
@translate_errors
def queue_status(
    queue: Annotated[str | None, typer.Option(help="One queue (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Items per status, live leases, overdue items and progress per reviewer."""
    from evalkit.review import queue_status as status_of

    s = status_of(open_db(), queue=queue)
    if as_json:
        sys.stdout.write(json.dumps(asdict(s), indent=2, default=str) + "\n")
        return
    console.print(
        f"queue {s.queue or '(all)'}: {s.pending} pending, {s.in_progress} in progress, "
        f"{s.done} done, {s.disputed} disputed, {s.adjudicated} adjudicated, {s.gold} gold",
        highlight=False,
    )
    if s.overdue:
        console.print(
            f"[bold red]{s.overdue} overdue[/] (oldest due {s.oldest_due_at:%Y-%m-%d %H:%M} UTC)"
        )
    for p in s.reviewers:
        console.print(
            f"  {p.username:<20} {p.submitted} submitted, {p.in_progress} in progress, "
            f"{p.skipped} skipped, {p.seconds / 60:.1f} min",
            highlight=False,
        )


@queue_app.command("disputed")
@translate_errors
def queue_disputed(
    queue: Annotated[str | None, typer.Option(help="One queue (default: all).")] = None,
) -> None:
    """Items whose reviewers disagree, waiting for an adjudicator (reviewer app or API)."""
    from evalkit.review.queue_reports import disputed_summary

    for line in disputed_summary(open_db(), queue=queue):
        console.print(line, highlight=False)


@translate_errors
def agreement(
    queue: Annotated[str | None, typer.Option(help="One queue (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Inter-reviewer agreement: Krippendorff's alpha and Cohen's kappa per field, each
    reviewer's agreement with the consensus and accuracy on gold items."""
    from evalkit.review.agreement import agreement_report

    report = agreement_report(open_db(), queue=queue)
    if as_json:
        sys.stdout.write(json.dumps(asdict(report), indent=2, default=_json_default) + "\n")
        return
    from evalkit.review.queue_reports import render_agreement

    for line in render_agreement(report):
        console.print(line, highlight=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | timedelta):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return str(value)


@queue_app.command("add-gold")
@translate_errors
def queue_add_gold(
    file: Annotated[
        Path, typer.Argument(help='JSONL: {"response_id": ..., "labels": {HEAD: VALUE}}')
    ],
    queue: Annotated[str, typer.Option(help="Queue to add to.")] = "default",
) -> None:
    """Add gold items (responses with known answers) that measure each reviewer's accuracy."""
    from evalkit.sample import add_gold

    answers: dict[str, dict[str, str]] = {}
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {str(file)!r}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers[str(row["response_id"])] = dict(row["labels"])
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f'{file}:line {number}: expected {{"response_id": ..., "labels": {{...}}}}'
            ) from None
    result = add_gold(open_db(), answers, queue=queue)
    console.print(
        f"{len(result.added)} gold item(s) added to '{queue}', {len(result.already)} already "
        f"there, {len(result.missing)} unknown response id(s)"
    )
    if result.missing:
        raise typer.Exit(1)
