"""Active learning: how many labels uncertainty sampling needs to match random sampling's AP.

Protocol. For each shared dataset and its head, the unlabelled pool is the task's whole training
pool (at most ``--pool``, 10,000; DiaSafety 9,017, HaluEval ~3,150, politeness ~4,600 responses)
and the budget 1,000 labels. The pool is deliberately much larger than the budget: in production
the traffic to choose from dwarfs what reviewers can label, while a pool only twice the budget
(the former default, 2,000 for 1,000) makes every strategy label half the pool, which caps how
far any can differ from random. (On these sets the larger pool did not, in fact, help: README.)
Features are fitted once on the pool (no labels involved). For each of ``--repeats`` start
sets of ``--step`` random labels, every strategy adds ``--step`` labels a round up to
``--budget``; after each round a logistic regression over evalkit's feature blocks is scored
(AP) on the task's held-out split, never on the pool.

Strategies: ``random``; ``uncertainty``, the pool responses whose current probability is
closest to 0.5 (``evalkit.learn.uncertainty_order``, what ``evalkit sample --strategy
uncertainty`` does with the active classifier's scores); and three well-known alternatives,
measured and not adopted (README, "Active learning"): ``kmeans`` (the 10 x step most uncertain,
clustered on the static embeddings into step clusters, the most uncertain of each taken),
``mix`` (half the round most uncertain, half at random) and ``warm`` (random up to 200 labels,
then uncertainty).

Reported (JSON): the mean AP curve over the repeats per strategy; the fewest labels with which
each strategy's mean curve reaches random sampling's mean AP at the full budget (goal: <= 50% of
the budget); and the same per repeat, because a single start set swings it by hundreds.

    .venv/bin/python benchmarks/active_learning.py                # ~4 min on 2 busy cores
    .venv/bin/python benchmarks/active_learning.py --seed 1 --strategies random uncertainty kmeans
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

from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from evalkit.learn.active import uncertainty_order
from evalkit.learn.embed import ensure_static_model
from evalkit.learn.features import RiskFeatures, stack_blocks
from evalkit.learn.model import SINGLE_WEIGHTS
from evalkit.learn.protocol import TASKS, default_datasets_dir, load_task

STRATEGIES = ("random", "uncertainty", "kmeans", "mix", "warm")
#: kmeans: candidates per label; mix: random share of a round; warm: random labels first
CANDIDATES, RANDOM_SHARE, WARM_START = 10, 0.5, 200


def choose(strategy, rest, p, embed, k, rng, *, labelled: int, seed: int) -> np.ndarray:
    """``k`` of the unlabelled indices ``rest`` (current probabilities ``p``) for ``strategy``."""
    if strategy == "random" or (strategy == "warm" and labelled < WARM_START):
        return rng.choice(rest, size=k, replace=False)
    order = uncertainty_order(p, threshold=0.5, rng=rng)
    if strategy in ("uncertainty", "warm"):
        return rest[order[:k]]
    if strategy == "mix":
        top = rest[order[: k - round(RANDOM_SHARE * k)]]
        others = np.setdiff1d(rest, top)
        return np.concatenate([top, rng.choice(others, size=k - len(top), replace=False)])
    candidates = order[: CANDIDATES * k]
    clusters = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(embed[rest[candidates]])
    distance = np.abs(p[candidates] - 0.5)
    members = [np.flatnonzero(clusters.labels_ == c) for c in range(k)]
    return np.array([rest[candidates[m[np.argmin(distance[m])]]] for m in members if len(m)])


def curve(X_pool, y_pool, X_test, y_test, embed, start, *, strategy, step, budget, seed) -> list:
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
        p = model.predict_proba(X_pool[rest])[:, 1]
        k = min(step, len(rest))
        labelled += choose(
            strategy, rest, p, embed, k, rng, labelled=len(labelled), seed=seed
        ).tolist()


def labels_to_reach(points: list, target: float) -> int | None:
    return next((n for n, ap in points if ap >= target), None)


def unit_rows(embed: np.ndarray) -> np.ndarray:
    """Centred, unit-length rows: k-means on them clusters by cosine."""
    centred = embed - embed.mean(axis=0)
    return centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument(
        "--pool", type=int, default=10_000, help="unlabelled pool size (at most the task's pool)"
    )
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="random start sets per strategy")
    parser.add_argument("--seed", type=int, default=0, help="held-out split and pool draw")
    parser.add_argument(
        "--strategies", nargs="*", choices=STRATEGIES, default=["random", "uncertainty"]
    )
    parser.add_argument("--cache-dir", type=Path, default=Path(".evalkit") / "cache")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.datasets.exists():
        print(json.dumps({"skipped": f"{args.datasets} is absent"}))
        return 1 if os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1" else 0
    strategies = ["random", *(s for s in args.strategies if s != "random")]
    encoder = ensure_static_model(args.cache_dir)
    result: dict = {
        "protocol": {
            "start": args.step,
            "step": args.step,
            "budget": args.budget,
            "pool": args.pool,
            "repeats": args.repeats,
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
        blocks = features.transform_blocks(pool.examples)
        X_pool = stack_blocks(blocks, names, SINGLE_WEIGHTS)
        X_test = stack_blocks(features.transform_blocks(test.examples), names, SINGLE_WEIGHTS)
        embed = unit_rows(np.asarray(blocks["embed"]))
        runs: dict[str, list] = {s: [] for s in strategies}
        for repeat in range(args.repeats):
            seed = args.seed * 1000 + repeat
            start = np.random.default_rng(seed).choice(len(pool), size=args.step, replace=False)
            for s in strategies:
                runs[s].append(
                    curve(
                        X_pool,
                        pool.y,
                        X_test,
                        test.y,
                        embed,
                        start,
                        strategy=s,
                        step=args.step,
                        budget=args.budget,
                        seed=seed,
                    )
                )
        mean = {
            s: [(c[0][i][0], float(np.mean([r[i][1] for r in c]))) for i in range(len(c[0]))]
            for s, c in runs.items()
        }
        target = mean["random"][-1][1]
        needed = {s: labels_to_reach(mean[s], target) for s in strategies[1:]}
        result[task.name] = {
            "head": task.head,
            "pool": len(pool),
            "positive_rate": round(float(pool.y.mean()), 3),
            "random_ap_at_budget": round(target, 4),
            "labels_to_reach_it": needed,
            "share_of_budget": {
                s: None if n is None else round(n / args.budget, 3) for s, n in needed.items()
            },
            "labels_to_reach_it_per_repeat": {
                s: [
                    labels_to_reach(c, r[-1][1])
                    for c, r in zip(runs[s], runs["random"], strict=True)
                ]
                for s in strategies[1:]
            },
            "curves": {s: [[n, round(ap, 4)] for n, ap in c] for s, c in mean.items()},
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
