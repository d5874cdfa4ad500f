"""A demo store with a review sample labelled from the demo's ground truth, for watch tests.

The sample is stratified by model with unequal fractions (so weights matter), plus a targeted
risk stream whose items are all hallucinations (so a rate that let it in would be wrong).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.demo import generate_demo, write_demo
from evalkit.records import LabelHead, LabelRecord
from evalkit.review.types import NewItem
from evalkit.sample import enqueue_selection
from evalkit.settings import Settings
from evalkit.store.database import Database

START = datetime(2026, 11, 2, tzinfo=UTC)
FRACTIONS = {"atlas-xl": 0.3, "swift-mini": 0.6, "support-ft": 0.45}


#: A response whose text must reach every screen as text, never as markup.
MALICIOUS = "Sure! <script>window.__xss = 'script'</script><img src=x onerror=\"window.__xss=1\">"


def build(db: Database, settings: Settings, directory: Path, *, n: int = 2000, seed: int = 7):
    """The demo traffic, the review sample and labels; the newest 0.9.5 response is made
    malicious (and labelled a hallucination), so it is among the examples of the red light."""
    traffic = generate_demo(n, rng=np.random.default_rng(seed), start=START, run=f"w{seed}")
    newest = max(
        (r for r in traffic.responses if r["model_version"] == "swift-mini-0.9.5"),
        key=lambda r: r["created_at"],
    )
    newest["response"] = MALICIOUS
    traffic.truth[newest["id"]]["hallucination"] = True
    paths = write_demo(traffic, directory)
    for kind in ("responses", "feedback"):
        Ingestor(db, settings, IngestOptions(kind=kind)).ingest_files([paths[kind]])
    rng = np.random.default_rng(seed)
    items, labels = [], []
    for r in traffic.responses:
        p = FRACTIONS[r["model_id"]]
        truth = traffic.truth[r["id"]]
        if r is newest or rng.random() < p:
            items.append(NewItem(r["id"], "stratified", p, stratum=r["model_id"]))
        elif truth["hallucination"] and rng.random() < 0.5:
            items.append(NewItem(r["id"], "risk", 1.0))
        else:
            continue
        for head, value in (
            (LabelHead.HALLUCINATION, truth["hallucination"]),
            (LabelHead.HARM, truth["harm"]),
            (LabelHead.IMPOLITE, truth["tone"] == "impolite"),
        ):
            labels.append(
                LabelRecord(
                    response_id=r["id"],
                    head=head,
                    value=bool(value),
                    annotator="truth",
                    created_at=START,
                    source_kind="import",
                )
            )
    enqueue_selection(db, items, rng=rng)
    with db.writer() as writer:
        writer.add_labels(labels)
    return traffic


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A cheap stand-in for MiniLM in fast tests: hashed word counts, unit length."""
    x = HashingVectorizer(n_features=256, alternate_sign=False, norm="l2").transform(texts)
    return np.asarray(x.todense(), dtype=np.float32)
