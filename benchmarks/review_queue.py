"""Review-queue claim latency with 20 reviewers working at once, on PostgreSQL and SQLite.

Usage (from the project root)::

    .venv/bin/python benchmarks/review_queue.py                  # 1,000 items, 20 reviewers
    .venv/bin/python benchmarks/review_queue.py --items 500 --reviewers 8 --skip-postgres

Prints one JSON object on stdout (progress on stderr). Each reviewer is its own process with its
own connection, as reviewers behind several API workers or reviewer-app sessions are: it claims
an item, reads it for a while (``--think-ms``, uniform from half to one and a half times the
mean; default 500 ms), submits labels, and claims again until the queue is empty. ``claim_ms``
is the wall-clock time of ``evalkit.review.claim`` (one transaction: find, lock, lease, read the
response), its first call per process left out (connection set-up). 10% of the items need
k = 2 reviewers. Target: p99 ≤ 50 ms on PostgreSQL.

Two runs per store: **paced** (the target's figure: 20 reviewers who read before they submit,
still ~40 labels/s, twenty times what 20 people label) and **saturated** (no reading time:
20 processes claiming and submitting in a closed loop). On a 2-core machine that also runs the
database, the saturated run measures the CPU queue (20 busy processes and the server sharing
two cores) more than the claim itself. ``store_errors`` counts operations that failed with a
store error (on SQLite: the write lock not obtained within its 30 s busy timeout, which 20
writing processes can cause on a busy machine); the reviewer retries them.

PostgreSQL gets a throwaway database (created here, dropped at the end) on the server at
``--postgres-url`` (default ``EVALKIT_TEST_POSTGRES_URL``, else the local one); an unreachable
server is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evalkit.errors import StoreError
from evalkit.records import ResponseRecord
from evalkit.review import accounts, claim, submit
from evalkit.review.types import NewItem
from evalkit.store import enqueue as store_queue
from evalkit.store.database import Database, make_engine

TARGET_PG_P99_MS = 50.0
DEFAULT_PG_URL = os.environ.get(
    "EVALKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(url: str, items: int, reviewers: int) -> None:
    db = Database.open(url)
    records = [
        ResponseRecord(
            id=f"b-{i:06d}",
            received_at=T0,
            created_at=T0,
            prompt=f"Question {i}?",
            response=f"Answer {i}. " * 40,
            tenant="acme",
            model_id="atlas-xl",
            content_hash=str(i),
        )
        for i in range(items)
    ]
    with db.writer() as w:
        w.add_responses(records)
    rng = random.Random(1)
    queued = [
        NewItem(r.id, "random", 0.1, required_reviews=2 if rng.random() < 0.1 else 1)
        for r in records
    ]
    store_queue.insert_items(db, "default", queued, T0)
    for i in range(reviewers):
        accounts.add_reviewer(db, f"bench-{i:02d}")
    if db.dialect == "postgresql":  # a store in service has statistics (autovacuum); a new one not
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    db.dispose()


def reviewer(args: tuple[str, str, Any, float]) -> tuple[list[float], int]:
    url, username, start, think_ms = args
    db = Database(make_engine(url, pool_size=1, max_overflow=0))
    who = accounts.get_reviewer(db, username)
    pace = random.Random(username)
    start.wait()
    latencies, failures = [], 0
    while True:
        t = time.perf_counter()
        try:
            item = claim(db, who)
            latencies.append((time.perf_counter() - t) * 1000)
            if item is None:
                break
            if think_ms:
                time.sleep(pace.uniform(0.5, 1.5) * think_ms / 1000)
            submit(db, who, item.item_id, {"hallucination": "no", "harm": "none"}, seconds=1.0)
        except StoreError:  # SQLite: the write lock not had within its 30 s busy timeout
            failures += 1
            if failures > 50:
                break
    db.dispose()
    return latencies[1:], failures


def measure(url: str, items: int, reviewers: int, think_ms: float) -> dict[str, Any]:
    prepare(url, items, reviewers)
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(reviewers + 1)
        with ctx.Pool(reviewers) as pool:
            jobs = pool.map_async(
                reviewer, [(url, f"bench-{i:02d}", start, think_ms) for i in range(reviewers)]
            )
            start.wait()
            began = time.perf_counter()
            results = jobs.get(timeout=1800)
            elapsed = time.perf_counter() - began
    claims = np.array([x for r, _ in results for x in r])
    failures = sum(f for _, f in results)
    return {
        "items": items,
        "reviewers": reviewers,
        "think_ms": think_ms,
        "claims": int(claims.size),
        "claim_ms": {
            "p50": round(float(np.percentile(claims, 50)), 2),
            "p90": round(float(np.percentile(claims, 90)), 2),
            "p99": round(float(np.percentile(claims, 99)), 2),
            "max": round(float(claims.max()), 2),
        },
        "labels_per_s": round(claims.size / elapsed, 1),
        "store_errors": failures,
        "seconds": round(elapsed, 1),
    }


def on_postgres(server_url: str, items: int, reviewers: int, think_ms: float) -> dict[str, Any]:
    """One run in a throwaway database on the server at ``server_url``."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"evalkit_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    url = make_url(server_url).set(database=name).render_as_string(False)
    try:
        return measure(url, items, reviewers, think_ms)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def on_sqlite(items: int, reviewers: int, think_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return measure(f"sqlite:///{Path(tmp) / 'bench.db'}", items, reviewers, think_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument(
        "--think-ms", type=float, default=500.0, help="mean reading time per item (paced run)"
    )
    parser.add_argument(
        "--no-saturated", action="store_true", help="skip the run without reading time"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "benchmark": "review_queue",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "targets": {"postgresql_paced_claim_p99_ms": TARGET_PG_P99_MS},
        "results": {},
    }
    modes = {"paced": args.think_ms, **({} if args.no_saturated else {"saturated": 0.0})}
    stores = [
        store
        for store, skip in (("postgresql", args.skip_postgres), ("sqlite", args.skip_sqlite))
        if not skip
    ]
    for store in stores:
        out["results"][store] = {}
        for mode, think_ms in modes.items():
            log(f"{store} {mode}: {args.items} items, {args.reviewers} reviewers")
            if store == "postgresql":
                result = on_postgres(args.postgres_url, args.items, args.reviewers, think_ms)
            else:
                result = on_sqlite(args.items, args.reviewers, think_ms)
            out["results"][store][mode] = result
    paced = out["results"].get("postgresql", {}).get("paced", {})
    if "claim_ms" in paced:
        out["meets_target"] = paced["claim_ms"]["p99"] <= TARGET_PG_P99_MS
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
