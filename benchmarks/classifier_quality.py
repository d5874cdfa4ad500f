"""Risk-classifier quality on the shared datasets, beside two baselines measured in the same run.

For each dataset in ``../shared/datasets/`` and its head: draw ``--n-train`` labels (1,200) from
the training pool, train evalkit's classifier (and its variants: stacked, single, without
embeddings) and the baselines (TF-IDF + LR; MiniLM embeddings + LR), score the held-out split,
and print AP, ROC-AUC, recall at precision 0.9 and ECE per model as JSON. Repeats over
``--seeds`` draws and reports the mean (and each run).

    .venv/bin/python benchmarks/classifier_quality.py                # ~5-10 min on 2 busy cores
    .venv/bin/python benchmarks/classifier_quality.py --tasks halueval --seeds 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Many small solves: BLAS threads only oversubscribe a shared machine (see learn/model.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from evalkit.learn.baselines import minilm_lr_scores, tfidf_lr_scores
from evalkit.learn.embed import MiniLMEncoder, ensure_static_model
from evalkit.learn.features import RiskFeatures
from evalkit.learn.metrics import ranking_report
from evalkit.learn.model import RiskModel
from evalkit.learn.protocol import TASKS, default_datasets_dir, draw, load_task

VARIANTS = {
    "evalkit": {"kind": "auto"},
    "evalkit_stack": {"kind": "stack"},
    "evalkit_single": {"kind": "single"},
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    from evalkit.learn.model import RiskHead

    for name in variants:
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
    _log(f"  evalkit variants: {time.perf_counter() - started:.0f}s")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--seeds", type=int, default=2, help="repetitions (seed 0, 1, ...)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".evalkit") / "cache")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
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
            m: {
                metric: round(float(np.mean([r[m][metric] for r in runs])), 4)
                for metric in ("ap", "roc_auc", "recall_at_p90", "ece")
            }
            for m in models
        }
        base = max(mean["tfidf_lr"]["ap"], mean["minilm_lr"]["ap"])
        result[task.name] = {"head": task.head, "mean": mean, "runs": runs}
        if "evalkit" in mean:
            result[task.name]["beats_both_baselines"] = mean["evalkit"]["ap"] > base
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
