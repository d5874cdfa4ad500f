"""The obvious baselines every risk classifier is measured against, in the same run.

``tfidf_lr``: word TF-IDF of prompt and response, one logistic regression. ``minilm_lr``: the
bundled MiniLM's embedding of prompt and response, one logistic regression. Both are what a
team builds in an afternoon; evalkit's classifier has to beat them to be worth its weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from evalkit.learn.data import Example
from evalkit.learn.embed import MiniLMEncoder


def joined(examples: Sequence[Example]) -> list[str]:
    return [f"{ex.prompt}\n{ex.response}".strip() for ex in examples]


def tfidf_lr_scores(train: Sequence[Example], y: np.ndarray, test: Sequence[Example]) -> np.ndarray:
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, solver="liblinear"),
    )
    return model.fit(joined(train), y).predict_proba(joined(test))[:, 1]


def minilm_lr_scores(
    train: Sequence[Example], y: np.ndarray, test: Sequence[Example], encoder: MiniLMEncoder
) -> np.ndarray:
    model = LogisticRegression(C=1.0, max_iter=3000)
    model.fit(encoder.encode(joined(train)), y)
    return model.predict_proba(encoder.encode(joined(test)))[:, 1]
