"""The shared-dataset protocol the quality and active-learning benchmarks measure on.

For each dataset in ``../shared/datasets/`` and its head: a fixed held-out split (DiaSafety's
own validation file; a seeded 70/30 split, grouped when records carry a ``group``, for the
others) and a training pool from which a benchmark draws its labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalkit.errors import UsageError
from evalkit.learn.data import LabelledSet, labelled_set, read_interchange


@dataclass(frozen=True)
class Task:
    name: str
    head: str
    train_file: str
    test_file: str | None  # None: a seeded 70/30 split of train_file


TASKS = (
    Task("diasafety", "harm", "diasafety_train.jsonl", "diasafety_val.jsonl"),
    Task("halueval", "hallucination", "halueval_general.jsonl", None),
    Task("politeness", "impolite", "politeness_stackexchange.jsonl", None),
)


def default_datasets_dir() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def load_task(task: Task, datasets: Path, *, seed: int) -> tuple[LabelledSet, LabelledSet]:
    """(training pool, held-out test set) of ``task``."""
    path = datasets / task.train_file
    if not path.exists():
        raise UsageError(f"{path} is absent: the shared datasets live in ../shared/datasets")
    pool = labelled_set(task.head, read_interchange(path))
    if task.test_file is not None:
        return pool, labelled_set(task.head, read_interchange(datasets / task.test_file))
    rng = np.random.default_rng(seed)
    assert pool.groups is not None
    unique = np.array(sorted(set(pool.groups.tolist())), dtype=object)
    test_groups = set(rng.permutation(unique)[: round(0.3 * len(unique))].tolist())
    in_test = np.array([g in test_groups for g in pool.groups])
    return pool.subset(np.flatnonzero(~in_test)), pool.subset(np.flatnonzero(in_test))


def draw(pool: LabelledSet, n: int, *, rng: np.random.Generator) -> LabelledSet:
    """``n`` labels drawn at random from ``pool`` (all of it when smaller)."""
    index = rng.permutation(len(pool))[: min(n, len(pool))]
    return pool.subset(np.sort(index))
