"""Feature blocks shared by every head: computed once per example, whatever the heads.

Blocks are kept apart (not one concatenated matrix) because the stacked model fits a linear
model per block and learns how much to trust each, and because the guard computes each block
once for all heads. Blocks:

- ``word``: word 1–2-gram TF-IDF of the response
- ``char``: character 2–5-gram TF-IDF of the response (spelling, punctuation, emoticons, tone)
- ``prompt``: word TF-IDF of the prompt and context (what was asked: harm is often agreement)
- ``embed``: static embeddings of prompt, response and context separately, and their cosines
- ``signals``: cheap signals (``learn.signals``)

A block with nothing to learn from (no prompts at all, say) is left out at fit time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from evalkit.learn.data import MAX_FEATURE_CHARS, Example
from evalkit.learn.embed import FieldEmbeddings
from evalkit.learn.signals import CheapSignals

BLOCKS = ("word", "char", "prompt", "embed", "signals")


def _response(examples: Sequence[Example]) -> list[str]:
    return [ex.response[:MAX_FEATURE_CHARS] for ex in examples]


def _asked(examples: Sequence[Example]) -> list[str]:
    return [
        f"{ex.prompt[:MAX_FEATURE_CHARS]} {(ex.context or '')[:MAX_FEATURE_CHARS]}".strip()
        for ex in examples
    ]


def _make(block: str, encoder_dir: str) -> Any:
    if block == "word":
        return TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True, dtype=np.float32
        )
    if block == "char":
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=2,
            max_features=100_000,
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float32,
        )
    if block == "prompt":
        return TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=30_000, sublinear_tf=True, dtype=np.float32
        )
    if block == "embed":
        return FieldEmbeddings(encoder_dir=encoder_dir)
    if block == "signals":
        return CheapSignals()
    raise ValueError(f"unknown feature block {block!r}; known: {', '.join(BLOCKS)}")


def _input(block: str, examples: Sequence[Example]) -> Any:
    if block in ("word", "char"):
        return _response(examples)
    if block == "prompt":
        return _asked(examples)
    return examples


class RiskFeatures(TransformerMixin, BaseEstimator):
    """Examples → a dict of feature blocks (``transform_blocks``) or one matrix (``transform``).

    Parameters are stored untouched (sklearn convention); ``extractors_`` maps each block that
    had something to learn from to its fitted transformer.
    """

    def __init__(self, blocks: tuple[str, ...] = BLOCKS, encoder_dir: str = "") -> None:
        self.blocks = blocks
        self.encoder_dir = encoder_dir

    def fit(self, X: Sequence[Example], y: object = None) -> RiskFeatures:
        self.extractors_: dict[str, Any] = {}
        for block in self.blocks:
            data = _input(block, X)
            if block in ("word", "char", "prompt") and sum(bool(t) for t in data) < 2:
                continue  # e.g. a dataset without prompts: nothing to build a vocabulary from
            extractor = _make(block, self.encoder_dir)
            try:
                extractor.fit(data)
            except ValueError as exc:  # "empty vocabulary": only stop words or one-off words
                if "vocabulary" not in str(exc):
                    raise
                continue
            self.extractors_[block] = extractor
        return self

    def transform_blocks(self, X: Sequence[Example]) -> dict[str, Any]:
        """Block name → (n, d) matrix: sparse CSR for TF-IDF, dense float64 otherwise."""
        return {
            block: extractor.transform(_input(block, X))
            for block, extractor in self.extractors_.items()
        }

    def transform(self, X: Sequence[Example]) -> sparse.csr_matrix:
        return stack_blocks(self.transform_blocks(X), list(self.extractors_))

    def set_encoder_dir(self, path: str) -> None:
        """Point the embedding block at another copy of the static model (a loaded artifact's)."""
        self.encoder_dir = path
        if "embed" in getattr(self, "extractors_", {}):
            self.extractors_["embed"].encoder_dir = path


def stack_blocks(
    blocks: dict[str, Any], names: Sequence[str], weights: dict[str, float] | None = None
) -> sparse.csr_matrix:
    """The blocks side by side (each scaled by ``weights``) as one CSR matrix."""
    parts = []
    for name in names:
        part = blocks[name]
        part = part if sparse.issparse(part) else sparse.csr_matrix(part)
        parts.append(part * (weights or {}).get(name, 1.0))
    return sparse.hstack(parts, format="csr")
