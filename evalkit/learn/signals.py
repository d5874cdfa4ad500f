"""Cheap signals: a handful of numbers a reviewer would notice before reading closely.

Lengths, refusal and hedging markers, apologies and imperatives (tone), digits and named-looking
tokens (facts that can be wrong), lexical overlap of the response with its context and prompt
(grounding), and the model's own confidence when the service reported one. Each costs a few
microseconds, so they sit on the guard's path for free, and they are standardized so a linear
model can weigh them beside TF-IDF.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from evalkit.learn.data import Example
from evalkit.refusals import is_refusal

_WORD = re.compile(r"[A-Za-z0-9']+")
_HEDGE = re.compile(
    r"\b(might|may|perhaps|possibly|probably|i think|i believe|it seems|likely|not sure|"
    r"could be|generally|typically|approximately|around)\b",
    re.I,
)
_APOLOGY = re.compile(r"\b(sorry|apolog\w*|unfortunately)\b", re.I)
_COURTESY = re.compile(r"\b(please|thanks?|thank you|appreciate|kindly|welcome|glad)\b", re.I)
_BLUNT = re.compile(
    r"\b(obviously|clearly|just|stupid|idiot|dumb|wrong|nonsense|ridiculous|shut up|whatever|"
    r"damn|hell|crap|wtf|fuck\w*|shit\w*)\b",
    re.I,
)
_YOU = re.compile(r"\b(you|your|you're|yourself)\b", re.I)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_DIGITS = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_UPPER = re.compile(r"[A-Z]")
_LETTER = re.compile(r"[^\W\d_]")

#: Names of the columns ``CheapSignals`` produces, in order.
SIGNAL_NAMES = (
    "log_response_chars",
    "log_prompt_chars",
    "log_context_chars",
    "log_response_words",
    "response_to_prompt_length",
    "refusal",
    "hedges_per_word",
    "apologies",
    "courtesy_per_word",
    "blunt_per_word",
    "you_per_word",
    "questions",
    "exclamations",
    "upper_ratio",
    "digit_ratio",
    "capitalised_per_word",
    "overlap_context",
    "overlap_prompt",
    "has_context",
    "confidence",
    "has_confidence",
    "unsupported_numbers",
    "unsupported_names",
)
#: The columns of an artifact fitted before ``CheapSignals`` recorded its names (``names_``).
LEGACY_SIGNAL_NAMES = SIGNAL_NAMES[:21]


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _overlap(response_words: list[str], other: str | None) -> float:
    """Share of the response's distinct words that also occur in ``other`` (0 without it)."""
    if not other or not response_words:
        return 0.0
    mine = set(response_words)
    return len(mine & set(_words(other))) / len(mine)


def _unsupported(pattern: re.Pattern[str], response: str, example: Example) -> float:
    """log1p of how many distinct specifics (numbers, mid-sentence names) the response states
    that neither its context nor its prompt contains: the way a grounded answer goes wrong
    (a refund window of 60 days against a policy of 30, another city than the order's).
    0 without a context to check against: an open question's answer names things freely."""
    if not example.context:
        return 0.0
    given = {m.lower() for m in pattern.findall(example.context)}
    given |= {m.lower() for m in pattern.findall(example.prompt)}
    stated = {m.lower() for m in pattern.findall(response)}
    return math.log1p(len(stated - given))


def signals_of(example: Example) -> list[float]:
    """The raw (unscaled) signal vector of one example, in ``SIGNAL_NAMES`` order."""
    text = example.response
    words = _words(text)
    n_words = max(len(words), 1)
    letters = len(_LETTER.findall(text)) or 1
    confidence = example.confidence
    return [
        math.log1p(len(text)),
        math.log1p(len(example.prompt)),
        math.log1p(len(example.context or "")),
        math.log1p(len(words)),
        math.log1p(len(text)) - math.log1p(len(example.prompt)),
        float(is_refusal(text)),
        len(_HEDGE.findall(text)) / n_words,
        float(len(_APOLOGY.findall(text))),
        len(_COURTESY.findall(text)) / n_words,
        len(_BLUNT.findall(text)) / n_words,
        len(_YOU.findall(text)) / n_words,
        float(text.count("?")),
        float(text.count("!")),
        len(_UPPER.findall(text)) / letters,
        len(_DIGITS.findall(text)) / max(len(text), 1),
        len(_CAPITALISED.findall(text)) / n_words,
        _overlap(words, example.context),
        _overlap(words, example.prompt),
        float(bool(example.context)),
        0.0 if confidence is None else float(confidence),
        float(confidence is not None),
        _unsupported(_NUMBER, text, example),
        _unsupported(_CAPITALISED, text, example),
    ]


class CheapSignals(TransformerMixin, BaseEstimator):
    """Examples → standardized signal matrix (n, len(SIGNAL_NAMES)).

    Counts are clipped at the training set's 99th percentile before scaling, so one rambling
    response cannot dominate a linear model's input.
    """

    def fit(self, X: Sequence[Example], y: object = None) -> CheapSignals:
        self.names_ = tuple(SIGNAL_NAMES)
        raw = np.array([signals_of(ex) for ex in X], dtype=np.float64).reshape(
            -1, len(SIGNAL_NAMES)
        )
        self.clip_ = np.percentile(raw, 99, axis=0) if len(raw) else np.ones(raw.shape[1])
        clipped = np.minimum(raw, self.clip_)
        self.mean_ = clipped.mean(axis=0)
        scale = clipped.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.n_features_out_ = raw.shape[1]
        return self

    def transform(self, X: Sequence[Example]) -> np.ndarray:
        raw = np.array([signals_of(ex) for ex in X], dtype=np.float64).reshape(
            -1, len(SIGNAL_NAMES)
        )
        known = raw[:, self._columns()]
        return (np.minimum(known, self.clip_) - self.mean_) / self.scale_

    def _columns(self) -> list[int]:
        """Where the columns this transformer was fitted on sit among today's signals: an
        artifact trained before a signal was added keeps scoring on the ones it knows."""
        names = getattr(self, "names_", LEGACY_SIGNAL_NAMES)
        return [SIGNAL_NAMES.index(name) for name in names]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(getattr(self, "names_", LEGACY_SIGNAL_NAMES), dtype=object)
