"""Active learning: how many labels uncertainty sampling needs to match random sampling's AP.

For each shared dataset and its head: features are fitted once on the unlabelled pool; both
strategies start from the same 100 random labels and add ``--step`` labels a round up to
``--budget``: ``random`` draws them at random, ``uncertainty`` takes the pool responses whose
current probability is closest to 0.5 (``evalkit.learn.uncertainty_order``). After each round a
logistic regression over evalkit's feature blocks is scored on the held-out split. Reported:
the AP curves, and the fewest labels with which uncertainty sampling reaches random sampling's
AP at the full budget (goal: ≤ 50% of it). Prints JSON.

    .venv/bin/python benchmarks/active_learning.py            # ~5-10 min on 2 busy cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from evalkit.learn.active import uncertainty_order
from evalkit.learn.embed import ensure_static_model
from evalkit.learn.features import RiskFeatures, stack_blocks
from evalkit.learn.model import SINGLE_WEIGHTS
from evalkit.learn.protocol import TASKS, default_datasets_dir, load_task


def curve(X_pool, y_pool, X_test, y_test, start, *, strategy, step, budget, seed) -> list:
    rng = np.random.default_rng(seed)
    labelled = list(start)
    points = []
    while True:
        model = LogisticRegression(C=1.0, max_iter=1000).fit(X_pool[labelled], y_pool[labelled])
        points.append(
            (
                len(labelled),
                float(average_precision_score(y_test, model.predict_proba(X_test)[:, 1])),
            )
        )
        if len(labelled) >= budget:
            return points
        rest = np.setdiff1d(np.arange(len(y_pool)), labelled)
        if strategy == "random":
            chosen = rng.choice(rest, size=min(step, len(rest)), replace=False)
        else:
            p = model.predict_proba(X_pool[rest])[:, 1]
            chosen = rest[uncertainty_order(p, threshold=0.5, rng=rng)[:step]]
        labelled += chosen.tolist()


def labels_to_reach(points: list, target: float) -> int | None:
    return next((n for n, ap in points if ap >= target), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument("--pool", type=int, default=3000, help="unlabelled pool size")
    parser.add_argument("--budget", type=int, default=1200)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(".evalkit") / "cache")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.datasets.exists():
        print(json.dumps({"skipped": f"{args.datasets} is absent"}))
        return 1 if os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1" else 0
    encoder = ensure_static_model(args.cache_dir)
    result: dict = {
        "protocol": {
            "start": args.step,
            "step": args.step,
            "budget": args.budget,
            "pool": args.pool,
            "seed": args.seed,
        }
    }
    for task in (t for t in TASKS if t.name in args.tasks):
        print(f"{task.name}", file=sys.stderr, flush=True)
        pool, test = load_task(task, args.datasets, seed=args.seed)
        rng = np.random.default_rng(args.seed)
        pool = pool.subset(np.sort(rng.permutation(len(pool))[: args.pool]))
        features = RiskFeatures(encoder_dir=str(encoder)).fit(pool.examples)
        names = list(features.extractors_)
        X_pool = stack_blocks(features.transform_blocks(pool.examples), names, SINGLE_WEIGHTS)
        X_test = stack_blocks(features.transform_blocks(test.examples), names, SINGLE_WEIGHTS)
        start = rng.choice(len(pool), size=args.step, replace=False)
        curves = {
            s: curve(
                X_pool,
                pool.y,
                X_test,
                test.y,
                start,
                strategy=s,
                step=args.step,
                budget=args.budget,
                seed=args.seed,
            )
            for s in ("random", "uncertainty")
        }
        target = curves["random"][-1][1]
        needed = labels_to_reach(curves["uncertainty"], target)
        result[task.name] = {
            "head": task.head,
            "random_ap_at_budget": round(target, 4),
            "uncertainty_labels_to_reach_it": needed,
            "share_of_budget": None if needed is None else round(needed / args.budget, 3),
            "curves": {s: [[n, round(ap, 4)] for n, ap in c] for s, c in curves.items()},
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
