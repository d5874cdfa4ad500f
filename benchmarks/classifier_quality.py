"""Risk-classifier quality on the shared datasets, beside two baselines measured in the same run.

For each dataset in ``../shared/datasets/`` and its head: draw ``--n-train`` labels (1,200) from
the training pool, train evalkit's classifier (and its variants: stacked, single, without
embeddings, a gradient-boosted combiner, the full MiniLM encoder in place of the static one)
and the baselines (TF-IDF + LR; MiniLM embeddings + LR), score the held-out split, and print
AP, ROC-AUC, recall at precision 0.9 and ECE per model as JSON. Repeats over ``--seeds`` draws
and reports the mean (and each run), with a per-task ``summary`` of the AP differences that
decide what ships.

Variants beside the shipped head (``evalkit``, ``kind="auto"``):

- ``evalkit_stack`` / ``evalkit_single``: the head with its kind fixed.
- ``evalkit_gbm``: a stacked gradient-boosted combiner. The sparse TF-IDF blocks enter as the
  out-of-fold logits of their own tuned logistic regressions (as in the ``stack`` head), the
  dense blocks (embeddings, cheap signals) as they are; a seeded HistGradientBoostingClassifier
  over those, its out-of-fold log-odds calibrated by ``choose_calibrator`` like every head.
- ``evalkit_full_encoder``: the same head with the embedding block built from the full
  sentence-transformers MiniLM (384-d, 256 word pieces) instead of the distilled static model
  (256-d): what the static distillation costs in AP.

    .venv/bin/python benchmarks/classifier_quality.py      # 34 min, 2 loaded cores, cold cache
    .venv/bin/python benchmarks/classifier_quality.py --tasks halueval --seeds 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Many small solves: BLAS threads only oversubscribe a shared machine (see learn/model.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from evalkit.learn.baselines import minilm_lr_scores, tfidf_lr_scores
from evalkit.learn.calibration import choose_calibrator
from evalkit.learn.data import Example
from evalkit.learn.embed import FIELDS, MiniLMEncoder, ensure_static_model, field_texts
from evalkit.learn.features import RiskFeatures
from evalkit.learn.metrics import ranking_report
from evalkit.learn.model import RiskHead, RiskModel, _lr, _oof_logits, make_splits
from evalkit.learn.protocol import TASKS, default_datasets_dir, draw, load_task

VARIANTS: dict[str, dict[str, Any]] = {
    "evalkit": {"kind": "auto"},
    "evalkit_stack": {"kind": "stack"},
    "evalkit_single": {"kind": "single"},
}
ALL_VARIANTS = (*VARIANTS, "evalkit_gbm", "evalkit_full_encoder")
METRICS = ("ap", "roc_auc", "recall_at_p90", "ece")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _gbm(seed: int) -> HistGradientBoostingClassifier:
    # Fixed, untuned settings: shallow trees, shrinkage and column subsampling, because 1,200
    # rows against ~770 dense columns invite overfitting; no early stopping, whose default 10%
    # hold-out would be 120 rows (a dozen positives on HaluEval) to stop on.
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        max_features=0.5,
        early_stopping=False,
        random_state=seed,
    )


def gbm_scores(
    blocks_train: dict[str, Any],
    y: np.ndarray,
    groups: np.ndarray | None,
    blocks_test: dict[str, Any],
    *,
    seed: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Calibrated test probabilities of the stacked GBM, and what was fitted (for the JSON)."""
    y = np.asarray(y, dtype=np.int64)
    head = RiskHead(seed=seed)  # its folds and Cs, so the GBM sees the same splits and grid
    splits = make_splits(y, groups, folds=head.folds, seed=seed)
    train_cols, test_cols, chosen_c = [], [], {}
    with threadpool_limits(limits=1):
        for name, X in blocks_train.items():
            if sparse.issparse(X):
                C, z = _oof_logits(X, y, splits, head.Cs)
                chosen_c[name] = C
                train_cols.append(z[:, None])
                lr = _lr(C, X).fit(X, y)
                test_cols.append(lr.decision_function(blocks_test[name])[:, None])
            else:
                train_cols.append(np.asarray(X))
                test_cols.append(np.asarray(blocks_test[name]))
        X_train, X_test = np.hstack(train_cols), np.hstack(test_cols)
        z_oof = np.zeros(len(y))
        for train, test in splits:
            z_oof[test] = _gbm(seed).fit(X_train[train], y[train]).decision_function(X_train[test])
        gbm = _gbm(seed).fit(X_train, y)
        calibrator, _losses = choose_calibrator(z_oof, y, seed=seed)
        p = calibrator.transform(gbm.decision_function(X_test))
    return p, {
        "calibration": calibrator.method,
        "oof_ap": round(float(average_precision_score(y, z_oof)), 4),
        "tfidf_block_C": chosen_c,
        "n_columns": int(X_train.shape[1]),
    }


def minilm_field_block(examples: Sequence[Example], minilm: MiniLMEncoder) -> np.ndarray:
    """``FieldEmbeddings``' block (prompt, response, context side by side, then the response's
    cosine with prompt and with context) from the full MiniLM instead of the static model."""
    n = len(examples)
    texts = [t for name in FIELDS for t in field_texts(examples, name)]
    vectors = minilm.encode(texts).reshape(len(FIELDS), n, -1)
    by_name = dict(zip(FIELDS, vectors, strict=True))
    sims = [np.einsum("ij,ij->i", by_name["response"], by_name[o]) for o in ("prompt", "context")]
    return np.hstack([*vectors, np.stack(sims, axis=1)]).astype(np.float64)


def run_task(
    task,
    datasets: Path,
    encoder_dir: Path,
    minilm: MiniLMEncoder,
    seed: int,
    n_train: int,
    variants: list[str],
) -> dict:
    pool, test = load_task(task, datasets, seed=seed)
    train = draw(pool, n_train, rng=np.random.default_rng(seed))
    out: dict = {"n_train": len(train), "n_test": len(test), "test_positives": int(test.y.sum())}
    started = time.perf_counter()
    model = RiskModel(RiskFeatures(encoder_dir=str(encoder_dir))).fit_features(train.examples)
    blocks_train = model.features_.transform_blocks(train.examples)
    blocks_test = model.features_.transform_blocks(test.examples)

    for name in (v for v in variants if v in VARIANTS):
        t0 = time.perf_counter()
        head = RiskHead(seed=seed, **VARIANTS[name]).fit(blocks_train, train.y, train.groups)
        p = head.predict_proba(blocks_test)[:, 1]
        out[name] = {
            **ranking_report(test.y, p),
            "fit_s": round(time.perf_counter() - t0, 1),
            "chosen": head.kind_,
            "calibration": head.calibrator_.method,
        }
    no_embed = {k: v for k, v in blocks_train.items() if k != "embed"}
    head = RiskHead(seed=seed, kind="single").fit(no_embed, train.y, train.groups)
    out["evalkit_no_embeddings"] = ranking_report(
        test.y, head.predict_proba({k: v for k, v in blocks_test.items() if k != "embed"})[:, 1]
    )
    if "evalkit_gbm" in variants:
        t0 = time.perf_counter()
        p, fitted = gbm_scores(blocks_train, train.y, train.groups, blocks_test, seed=seed)
        out["evalkit_gbm"] = {
            **ranking_report(test.y, p),
            "fit_s": round(time.perf_counter() - t0, 1),
            **fitted,
        }
    _log(f"  evalkit variants: {time.perf_counter() - started:.0f}s")
    if "evalkit_full_encoder" in variants and "embed" in blocks_train:
        t0 = time.perf_counter()
        full_train = {**blocks_train, "embed": minilm_field_block(train.examples, minilm)}
        full_test = {**blocks_test, "embed": minilm_field_block(test.examples, minilm)}
        minilm.save()
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        head = RiskHead(seed=seed, kind="auto").fit(full_train, train.y, train.groups)
        out["evalkit_full_encoder"] = {
            **ranking_report(test.y, head.predict_proba(full_test)[:, 1]),
            "fit_s": round(time.perf_counter() - t0, 1),
            "encode_s": round(encode_s, 1),
            "chosen": head.kind_,
            "calibration": head.calibrator_.method,
        }
        _log(f"  full-encoder variant: {encode_s:.0f}s encoding, {time.perf_counter() - t0:.0f}s")
    out["tfidf_lr"] = ranking_report(
        test.y, tfidf_lr_scores(train.examples, train.y, test.examples)
    )
    t0 = time.perf_counter()
    out["minilm_lr"] = ranking_report(
        test.y, minilm_lr_scores(train.examples, train.y, test.examples, minilm)
    )
    minilm.save()
    _log(f"  minilm baseline: {time.perf_counter() - t0:.0f}s")
    return out


def summarize(mean: dict[str, dict], runs: list[dict]) -> dict[str, Any]:
    """AP differences that decide what ships: evalkit against the best baseline, against the full
    encoder (the static model's cost) and against the GBM combiner; mean and per run."""

    def diff(a: str, b: str) -> dict[str, Any]:
        return {
            "mean": round(mean[a]["ap"] - mean[b]["ap"], 4),
            "runs": [round(r[a]["ap"] - r[b]["ap"], 4) for r in runs],
        }

    best_baseline = max(("tfidf_lr", "minilm_lr"), key=lambda m: mean[m]["ap"])
    summary: dict[str, Any] = {
        "best_by_ap": max(mean, key=lambda m: mean[m]["ap"]),
        "best_baseline": best_baseline,
    }
    if "evalkit" not in mean:
        return summary
    summary["evalkit_minus_best_baseline_ap"] = diff("evalkit", best_baseline)
    if "evalkit_full_encoder" in mean:
        summary["evalkit_minus_full_encoder_ap"] = diff("evalkit", "evalkit_full_encoder")
        summary["evalkit_within_0.01_of_full_encoder"] = (
            summary["evalkit_minus_full_encoder_ap"]["mean"] >= -0.01
        )
    if "evalkit_gbm" in mean:
        summary["gbm_minus_evalkit_ap"] = diff("evalkit_gbm", "evalkit")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--seeds", type=int, default=2, help="repetitions (seed 0, 1, ...)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".evalkit") / "cache")
    parser.add_argument("--variants", nargs="*", choices=ALL_VARIANTS, default=list(ALL_VARIANTS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.datasets.exists():
        print(json.dumps({"skipped": f"{args.datasets} is absent"}))
        return 1 if os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1" else 0
    encoder_dir = ensure_static_model(args.cache_dir)
    minilm = MiniLMEncoder(cache_file=args.cache_dir / "minilm-benchmark.npz")
    result: dict = {
        "protocol": {
            "n_train": args.n_train,
            "seeds": args.seeds,
            "machine": f"{os.cpu_count()} cores (shared, loaded)",
        }
    }
    for task in (t for t in TASKS if t.name in args.tasks):
        runs = []
        for seed in range(args.seeds):
            _log(f"{task.name} seed {seed}")
            runs.append(
                run_task(
                    task, args.datasets, encoder_dir, minilm, seed, args.n_train, args.variants
                )
            )
        models = [k for k, v in runs[0].items() if isinstance(v, dict)]
        mean = {
            m: {k: round(float(np.mean([r[m][k] for r in runs])), 4) for k in METRICS}
            for m in models
        }
        base = max(mean["tfidf_lr"]["ap"], mean["minilm_lr"]["ap"])
        result[task.name] = {"head": task.head, "mean": mean, "runs": runs}
        if "evalkit" in mean:
            result[task.name]["beats_both_baselines"] = mean["evalkit"]["ap"] > base
        result[task.name]["summary"] = summarize(mean, runs)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
