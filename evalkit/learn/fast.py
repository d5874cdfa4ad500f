"""The guard's fast path: a fitted ``RiskModel`` folded into a few arrays per block.

Every head is linear in every block (``RiskHead``), so each TF-IDF block becomes one
(vocabulary × heads) weight matrix with the block's meta weight folded in, and scoring a
response is: analyse its text, look up the terms it has, weigh them by idf, normalize, and add
up their rows. That skips sklearn's per-call validation and sparse-matrix construction, which
cost far more than the arithmetic for one response. ``CompiledScorer.logits`` gives the same
numbers as ``RiskModel`` (a test checks it); the guard uses it for small batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evalkit.learn.data import Example
from evalkit.learn.embed import FieldEmbeddings, static_encoder
from evalkit.learn.features import _input
from evalkit.learn.model import RiskModel

_TEXT_BLOCKS = ("word", "char", "prompt")


class CompiledScorer:
    """Per-head calibrated probabilities for examples, from a fitted ``RiskModel``."""

    def __init__(self, model: RiskModel) -> None:
        self.heads = list(model.heads_)
        extractors = model.features_.extractors_
        heads = [model.heads_[h] for h in self.heads]
        self.calibrators = [h.calibrator_ for h in heads]
        self.const = np.array(
            [
                h.meta_intercept_ + sum(h.meta_[b] * h.weights_[b][1] for b in h.weights_)
                for h in heads
            ]
        )
        self.text: list[tuple[str, Callable[[str], list[int]], np.ndarray, bool, np.ndarray]] = []
        self.dense: list[tuple[str, Any, np.ndarray]] = []
        for name, extractor in extractors.items():
            weights = np.column_stack([h.meta_[name] * h.weights_[name][0] for h in heads])
            if name in _TEXT_BLOCKS:
                columns = (
                    _CharWbColumns(extractor)
                    if extractor.analyzer == "char_wb"
                    else _columns(extractor.build_analyzer(), extractor.vocabulary_)
                )
                idf = np.asarray(extractor.idf_, dtype=np.float64)
                self.text.append((name, columns, idf, bool(extractor.sublinear_tf), weights))
            else:
                if isinstance(extractor, FieldEmbeddings):
                    # Load the static model now, not in the first check (~0.2 s).
                    static_encoder(extractor.encoder_dir)
                self.dense.append((name, extractor, weights))

    def logits(self, examples: Sequence[Example]) -> np.ndarray:
        """(n, heads) logits before calibration."""
        z = np.tile(self.const, (len(examples), 1))
        for name, columns, idf, sublinear, weights in self.text:
            for i, text in enumerate(_input(name, examples)):
                # Counter counts in C; each distinct column is weighed once.
                counts = Counter(columns(text))
                if not counts:
                    continue
                idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                values = ((np.log(tf) + 1.0) if sublinear else tf) * idf[idx]
                z[i] += (values / np.sqrt(values @ values)) @ weights[idx]
        for _name, extractor, weights in self.dense:
            z += extractor.transform(examples) @ weights
        return z

    def predict_scores(self, examples: Sequence[Example]) -> dict[str, np.ndarray]:
        """head → calibrated probabilities, like ``RiskModel.predict_scores``."""
        z = self.logits(examples)
        return {
            head: cal.transform(z[:, j])
            for j, (head, cal) in enumerate(zip(self.heads, self.calibrators, strict=True))
        }


def _columns(analyze: Callable[[str], list[str]], vocabulary: dict[str, int]) -> Any:
    """text → the vocabulary columns of its known terms, one per occurrence."""

    def columns(text: str) -> list[int]:
        return [j for j in map(vocabulary.get, analyze(text)) if j is not None]

    return columns


class _CachedCharWb:
    """sklearn's ``char_wb`` analyzer, remembering each word's n-grams: words repeat within a
    response and across responses, and generating n-grams in Python is the costly part."""

    def __init__(self, vectorizer: Any, cache_size: int = 50_000) -> None:
        self.preprocess = vectorizer.build_preprocessor()
        self.white_spaces = vectorizer._white_spaces
        self.min_n, self.max_n = vectorizer.ngram_range
        self.cache: dict[str, list[str]] = {}
        self.cache_size = cache_size

    def _word(self, word: str) -> list[str]:
        # The same n-grams, in the same order, as TfidfVectorizer._char_wb_ngrams.
        w = f" {word} "
        grams: list[str] = []
        for n in range(self.min_n, self.max_n + 1):
            if len(w) <= n:
                grams.append(w)
                break
            grams.extend(w[i : i + n] for i in range(len(w) - n + 1))
        return grams

    def __call__(self, text: str) -> list[str]:
        out: list[str] = []
        cache = self.cache
        for word in self.white_spaces.sub(" ", self.preprocess(text)).split():
            grams = cache.get(word)
            if grams is None:
                grams = self._word(word)
                if len(cache) < self.cache_size:
                    cache[word] = grams
            out.extend(grams)
        return out


class _CharWbColumns(_CachedCharWb):
    """``_CachedCharWb`` that remembers each word's vocabulary columns instead of its n-grams:
    a word seen before costs one dict lookup, not a lookup per n-gram (about 7 a word)."""

    def __init__(self, vectorizer: Any, cache_size: int = 50_000) -> None:
        super().__init__(vectorizer, cache_size)
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.known: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:  # type: ignore[override]
        out: list[int] = []
        known, vocabulary = self.known, self.vocabulary
        for word in self.white_spaces.sub(" ", self.preprocess(text)).split():
            cols = known.get(word)
            if cols is None:
                cols = [j for j in map(vocabulary.get, self._word(word)) if j is not None]
                if len(known) < self.cache_size:
                    known[word] = cols
            out.extend(cols)
        return out
