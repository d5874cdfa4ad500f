"""Builders shared by the learn and guard tests, cached per process (one training per worker).

The static embedding model is distilled once into ``EVALKIT_TEST_CACHE_DIR`` (default: the
repository's ``.evalkit/cache``, which ``evalkit demo`` fills too), then reused by every run.
Training data is the project's own demo traffic with its ground truth, so these tests do not
need ``../shared``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evalkit.learn.data import Example, LabelledSet
from evalkit.learn.embed import ensure_static_model
from evalkit.learn.train import TrainOptions, TrainResult, train_classifier

ROOT = Path(__file__).resolve().parents[2]
FAST = {"folds": 3, "cs": (1.0,)}


@functools.cache
def static_model() -> Path:
    cache = Path(os.environ.get("EVALKIT_TEST_CACHE_DIR", ROOT / ".evalkit" / "cache"))
    return ensure_static_model(cache)


@functools.cache
def demo_rows(n: int = 600, seed: int = 11) -> tuple:
    from evalkit.demo import generate_demo

    traffic = generate_demo(
        n, rng=np.random.default_rng(seed), start=datetime(2026, 11, 2, tzinfo=UTC), run="lt"
    )
    return tuple(traffic.responses), traffic.truth


def truth_label(head: str, truth: dict) -> bool:
    return truth.get("tone") == "impolite" if head == "impolite" else bool(truth.get(head))


@functools.cache
def demo_sets(n: int = 600) -> dict[str, LabelledSet]:
    responses, truth = demo_rows(n)
    examples = [Example.from_mapping(r) for r in responses]
    sets = {}
    for head in ("hallucination", "harm", "impolite"):
        y = np.array([int(truth_label(head, truth[ex.id])) for ex in examples])
        sets[head] = LabelledSet(head, examples, y, np.array([ex.id for ex in examples]))
    return sets


@functools.cache
def trained() -> TrainResult:
    out = Path(tempfile.mkdtemp(prefix="evalkit-test-classifiers-"))
    return train_classifier(
        demo_sets(), TrainOptions(seed=3, **FAST), out_dir=out, encoder_dir=static_model()
    )
