"""``evalkit train``, ``evalkit score`` and ``evalkit classifiers``: the learn stage's commands.

Thin: parse options, call one function of ``evalkit.learn``, print. scikit-learn, model2vec and
friends are imported inside the commands, so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.context import console, err_console, open_db, state, translate_errors

classifiers_app = typer.Typer(
    help="Trained risk-classifier versions: list, activate.", no_args_is_help=True
)


@translate_errors
def train(
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="Head to train (repeatable): hallucination, harm, impolite. Default: all.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where artifacts are written.")] = Path(
        "classifiers"
    ),
    target_precision: Annotated[
        float,
        typer.Option(
            "--target-precision",
            min=0.5,
            max=0.999,
            help="Precision the block threshold is chosen for.",
        ),
    ] = 0.9,
    review_recall: Annotated[
        float,
        typer.Option(
            "--review-recall",
            min=0.05,
            max=1.0,
            help="Share of positives at or above the (lower) review threshold.",
        ),
    ] = 0.8,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same labels: same model.")] = 0,
    suspects: Annotated[
        int,
        typer.Option(
            "--suspects", min=0, help="Suspect labels per head sent to the review queue (0: none)."
        ),
    ] = 50,
    no_activate: Annotated[
        bool,
        typer.Option(
            "--no-activate", help="Register the version without making it the active one."
        ),
    ] = False,
) -> None:
    """Train the risk classifier on the store's final labels and register the version."""
    from evalkit.learn.data import HEADS
    from evalkit.learn.pipeline import train_from_store
    from evalkit.learn.train import TrainOptions

    options = TrainOptions(
        heads=tuple(head or HEADS),
        target_precision=target_precision,
        review_recall=review_recall,
        seed=seed,
    )
    db = open_db()
    outcome = train_from_store(
        db,
        state.settings,
        options,
        out_dir=out,
        activate=not no_activate,
        suspects=suspects,
        log=lambda m: err_console.print(m, highlight=False),
    )
    result = outcome.result
    console.print(
        f"Classifier {result.version} → {result.path}" + ("" if no_activate else " (active)"),
        highlight=False,
    )
    for line in outcome.summary:
        console.print(f"  {line}", highlight=False)
    if suspects:
        console.print(
            f"Suspect labels: {len(outcome.suspects)} found, "
            f"{outcome.suspects_queued} newly queued for adjudication",
            highlight=False,
        )


@translate_errors
def score(
    file: Annotated[Path, typer.Argument(help="Responses (JSONL, CSV or Parquet, as ingest).")],
    out: Annotated[Path, typer.Option("--out", help="Scores, one JSON object per line.")],
    classifier: Annotated[
        Path | None,
        typer.Option(
            "--classifier", help="Artifact directory (default: the store's active version)."
        ),
    ] = None,
) -> None:
    """Score a response file: {"id", "scores": {head: probability}, "action"} per line."""
    from evalkit.errors import UsageError
    from evalkit.learn.pipeline import score_file

    if classifier is None:
        from evalkit.store.classifiers import active_version

        row = active_version(open_db())
        if row is None:
            raise UsageError("no active classifier: run `evalkit train` or pass --classifier DIR")
        classifier = Path(row["artifact_path"])
    counts = score_file(classifier, file, out, state.settings)
    console.print(
        f"Scored {sum(counts[a] for a in ('allow', 'review', 'block')):,} responses → "
        f"{out}: {counts['allow']:,} allow, {counts['review']:,} review, "
        f"{counts['block']:,} block"
        + (f", {counts['errors']:,} unreadable" if counts["errors"] else ""),
        highlight=False,
    )


@classifiers_app.command("list")
@translate_errors
def list_versions() -> None:
    """Registered classifier versions, newest first (* = active)."""
    from evalkit.store.classifiers import list_classifiers

    rows = list_classifiers(open_db())
    if not rows:
        console.print("No classifier trained yet: run `evalkit train`.")
    for row in rows:
        metrics = ", ".join(f"{h} AP {m.get('ap')}" for h, m in (row["metrics"] or {}).items())
        console.print(
            f"{'*' if row['active'] else ' '} {row['version']}  "
            f"{row['trained_at']:%Y-%m-%d %H:%M}  {metrics}  {row['artifact_path']}",
            highlight=False,
        )


@classifiers_app.command("activate")
@translate_errors
def activate(
    version: Annotated[str, typer.Argument(help="A version from `classifiers list`.")],
) -> None:
    """Make VERSION the active classifier (what the guard and risk sampling use)."""
    from evalkit.store.classifiers import activate_classifier

    activate_classifier(open_db(), version)
    console.print(f"Active classifier: {version} (restart `evalkit serve` to load it)")
