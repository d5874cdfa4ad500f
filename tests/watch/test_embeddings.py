"""Embeddings: the cache computes each text once; with the bundled MiniLM, the demo's charger
recall topic is found in product questions and nothing between two weeks of account questions
(order-status prompts quote dates, so their text really does move with time)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from evalkit.demo import generate_demo
from evalkit.watch.embed_drift import embedding_drift
from evalkit.watch.embeddings import EmbeddingCache


def test_cache_computes_each_text_once_and_survives_a_restart(tmp_path):
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = EmbeddingCache(tmp_path, encode)
    first = cache.get("prompt", ["a", "b"], ["x", "yy"])
    again = EmbeddingCache(tmp_path, encode).get("prompt", ["b", "a", "c"], ["yy", "x", "zzz"])
    assert calls == [["x", "yy"], ["zzz"]]
    assert np.array_equal(again[:2], first[::-1])
    assert len(EmbeddingCache(tmp_path)) == 3


@pytest.mark.slow
def test_minilm_finds_the_demo_topic_shift_and_not_a_quiet_one():
    from evalkit.watch.embeddings import minilm

    traffic = generate_demo(
        2000, rng=np.random.default_rng(7), start=datetime(2026, 11, 2, tzinfo=UTC)
    )

    def prompts(intent: str, days: range) -> list[str]:
        start = datetime(2026, 11, 2, tzinfo=UTC)
        return [
            r["prompt"]
            for r in traffic.responses
            if r["intent"] == intent
            and (datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) - start).days
            in days
        ][:80]

    encode = minilm()
    before, after = (
        prompts("product_question", range(2, 7)),
        prompts("product_question", range(9, 14)),
    )
    shifted = embedding_drift(encode(before), encode(after), rng=np.random.default_rng(0))
    assert shifted.drifted, shifted.reason
    quiet_a, quiet_b = prompts("account_help", range(2, 7)), prompts("account_help", range(9, 14))
    quiet = embedding_drift(encode(quiet_a), encode(quiet_b), rng=np.random.default_rng(0))
    assert not quiet.drifted, quiet.reason
