"""The model card: what a reviewer of a classifier needs before trusting its flags."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _point(block: dict[str, Any]) -> str:
    folds = block.get("thresholds") or []
    where = (
        f"thresholds of each fold ({', '.join(_fmt(t) for t in folds)})"
        if len(folds) > 1
        else f"threshold {_fmt(block['threshold'])}"
    )
    return (
        f"{where}: precision {_fmt(block['precision'])}, "
        f"recall {_fmt(block['recall'])}, flags {_fmt(block['flagged_share'])} of responses"
    )


def _evaluated(held: dict[str, Any]) -> str:
    if held["split"].get("method") == "cross-validation":
        return f"{held['split']['folds']}-fold grouped CV"
    return "held-out"


def _ci(held: dict[str, Any], metric: str) -> str:
    interval = (held.get("interval_95") or {}).get(metric)
    return f" [{_fmt(interval[0])}, {_fmt(interval[1])}]" if interval else ""


def _block(meta: dict[str, Any], evaluated: dict[str, Any]) -> str:
    """The shipped block threshold and what blocking did out of sample; a head whose target
    precision is out of reach never blocks, whatever the evaluation's folds managed."""
    if meta["thresholds"]["block"] is None:
        return "never blocks (target precision out of reach)"
    return (
        f"block ≥ {_fmt(meta['thresholds']['block'])} (precision "
        f"{_fmt(evaluated['precision'])}, recall {_fmt(evaluated['recall'])})"
    )


def summary_lines(metadata: dict[str, Any]) -> list[str]:
    """One line per head (and per skipped head): what the CLI and the demo print."""
    lines = []
    for head, meta in metadata["heads"].items():
        held = meta["held_out"]
        block = held["at_block_threshold"]
        lines.append(
            f"{head}: {meta['counts']['labelled']} labels ({meta['counts']['positive']} positive)"
            f" · {_evaluated(held)} AP {_fmt(held['ap'])}{_ci(held, 'ap')}, "
            f"ROC-AUC {_fmt(held['roc_auc'])}{_ci(held, 'roc_auc')}, "
            f"ECE {_fmt(held['ece'])} · {_block(meta, block)}, "
            f"review ≥ {_fmt(meta['thresholds']['review'])}"
        )
    for head, reason in metadata.get("skipped", {}).items():
        lines.append(f"{head}: skipped ({reason})")
    return lines


def model_card(metadata: dict[str, Any]) -> str:
    """MODEL_CARD.md for an artifact's metadata (library versions and hashes are added by the
    artifact writer into metadata.json; the card names the essentials)."""
    tp = metadata["target_precision"]
    out = [
        f"# Risk classifier {metadata['version']}",
        "",
        f"Trained {metadata['trained_at']} by `evalkit train` from the store's final labels. "
        "Scores are calibrated probabilities; each head blocks at the lowest threshold whose "
        f"out-of-fold precision reached {tp:g} and sends to review at the threshold that "
        f"catches {metadata['review_recall']:g} of the positives.",
        "",
        "Metrics are on a held-out split (grouped when records share a group or prompt) of a "
        "model trained the same way on the rest, or, when that split would hold fewer than "
        f"{metadata.get('options', {}).get('min_test_positives', 30)} positives, pooled over "
        "grouped cross-validation folds (every label scored once, out of fold); brackets are "
        "95% bootstrap intervals. The shipped model is refitted on every label.",
        "",
        "## Summary",
        "",
        *[f"- {line}" for line in summary_lines(metadata)],
        "",
    ]
    for head, meta in metadata["heads"].items():
        held = meta["held_out"]
        total = meta["counts"]["labelled"]
        out += [
            f"## {head}",
            "",
            f"- labels: {meta['counts']} · data sha256 `{meta['data_hash'][:16]}…`",
            f"- model: `{meta['kind']}` linear model over word/char TF-IDF, prompt TF-IDF, "
            f"static embeddings and cheap signals; calibration `{meta['calibration']}` "
            f"(cross-validated log loss {meta['calibration_log_loss']})",
            f"- {_evaluated(held)} ({held['split']['test']} scored, models trained on "
            f"{held['split']['train']} of {total}): AP {_fmt(held['ap'])}{_ci(held, 'ap')}, "
            f"ROC-AUC {_fmt(held['roc_auc'])}{_ci(held, 'roc_auc')}, ECE {_fmt(held['ece'])}, "
            f"mean score {_fmt(held['mean_score'])} vs observed rate {_fmt(held['observed_rate'])}",
            f"- block: {_point(held['at_block_threshold'])}",
            f"- review: {_point(held['at_review_threshold'])}",
            f"- shipped thresholds: block {_fmt(meta['thresholds']['block'])}, review "
            f"{_fmt(meta['thresholds']['review'])}",
            "",
        ]
        for name in ("by_model", "by_intent"):
            if held[name]:
                out += [
                    f"| {name.removeprefix('by_')} | n | positives | AP | ECE |",
                    "|---|---|---|---|---|",
                ]
                out += [
                    f"| {k} | {v['n']} | {v['positives']} | {_fmt(v['ap'])} | {_fmt(v['ece'])} |"
                    for k, v in held[name].items()
                ]
                out.append("")
    if metadata.get("skipped"):
        out += ["## Skipped heads", ""]
        out += [f"- {head}: {reason}" for head, reason in metadata["skipped"].items()]
        out.append("")
    return "\n".join(out)
