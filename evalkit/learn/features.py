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

A fitted ``RiskFeatures`` saves each TF-IDF vocabulary as two arrays (``pack_vocabulary``),
not as the vectorizer's dict: skops writes a dict entry by entry, a schema node per term and a
``.npy`` file per index, which made a three-head artifact 84 MB and 52,000 files, 4–9 s to load.
"""

from __future__ import annotations

import copy
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

    def __getstate__(self) -> dict[str, Any]:
        # A copy: object.__getstate__ returns the live __dict__, which saving must not change.
        state = dict(super().__getstate__())
        extractors = state.get("extractors_")
        if isinstance(extractors, dict):
            state["extractors_"], state["vocabularies_"] = _without_vocabularies(extractors)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        packed = state.pop("vocabularies_", None) or {}
        super().__setstate__(state)
        # Artifacts saved before the vocabularies were packed carry them in place: kept as is.
        for block, (text, lengths) in packed.items():
            self.extractors_[block].vocabulary_ = unpack_vocabulary(text, lengths)

    def set_encoder_dir(self, path: str) -> None:
        """Point the embedding block at another copy of the static model (a loaded artifact's)."""
        self.encoder_dir = path
        if "embed" in getattr(self, "extractors_", {}):
            self.extractors_["embed"].encoder_dir = path


def pack_vocabulary(vocabulary: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """A term → column dict as (UTF-8 bytes of every term in column order, each term's length
    in characters): two flat arrays, exact for any term (no separator that a term could hold)."""
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if [vocabulary[t] for t in terms] != list(range(len(terms))):
        raise ValueError("a vocabulary's columns must be 0..n-1, each once")
    text = np.frombuffer("".join(terms).encode("utf-8"), dtype=np.uint8).copy()
    return text, np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))


def unpack_vocabulary(text: np.ndarray, lengths: np.ndarray) -> dict[str, int]:
    """The dict ``pack_vocabulary`` packed (columns as plain ints)."""
    joined = np.asarray(text, dtype=np.uint8).tobytes().decode("utf-8")
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends][:-1]
    if ends and ends[-1] != len(joined):
        raise ValueError("packed vocabulary: term lengths do not add up to its text")
    return {joined[a:b]: i for i, (a, b) in enumerate(zip(starts, ends, strict=True))}


def _without_vocabularies(
    extractors: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Shallow copies of the TF-IDF extractors without ``vocabulary_``, and the packed ones."""
    kept: dict[str, Any] = {}
    packed = {}
    for block, extractor in extractors.items():
        vocabulary = getattr(extractor, "vocabulary_", None)
        if isinstance(extractor, TfidfVectorizer) and isinstance(vocabulary, dict):
            packed[block] = pack_vocabulary(vocabulary)
            extractor = copy.copy(extractor)
            del extractor.vocabulary_
        kept[block] = extractor
    return kept, packed


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
