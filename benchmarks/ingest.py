"""Ingest throughput: the real pipeline against the per-row ORM loop people write first.

Usage (from the project root)::

    .venv/bin/python benchmarks/ingest.py                      # n=100,000, SQLite + PostgreSQL
    .venv/bin/python benchmarks/ingest.py --n 20000 --skip-postgres --out bench.json

Prints one JSON object on stdout (progress goes to stderr); ``benchmarks/README.md`` explains
every figure. The input is a synthetic JSONL file written with a fixed seed before any clock
starts, so two runs ingest the same bytes.

Measured, each against a fresh store:

* ``pipeline``: ``Ingestor.ingest_files`` on the file, wall-clock, i.e. read + JSON parse +
  validate + redact + de-duplicate + batched insert + the ``ingest_runs`` audit row.
* ``naive_orm``: the first ``--naive-n`` lines, each ``json.loads`` + ``parse_response`` +
  ``ResponseRow(...)`` + ``session.add`` + ``session.commit()``. Besides committing per row it
  does less than the pipeline (no redaction, no duplicate lookup), so the pipeline/naive ratio
  is a lower bound of what batching buys.
* ``reingest``: the same file again into the SQLite store that already holds it: every record is
  a duplicate, the idempotent path a retried import takes.

PostgreSQL gets throwaway databases (created here, dropped ``WITH (FORCE)`` at the end) on the
server at ``--postgres-url`` (default ``EVALKIT_TEST_POSTGRES_URL``, else the local one). An
unreachable server is reported as skipped and the run still exits 0, unless
``EVALKIT_REQUIRE_SERVICES=1``, where it exits 1 before measuring anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.capture.validate import Limits, parse_response
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.tables import ResponseRow

SEED = 20_240_601
TARGETS = {"sqlite_records_per_s": 20_000, "postgresql_records_per_s": 10_000, "vs_naive": 10}
DEFAULT_PG_URL = os.environ.get(
    "EVALKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BASELINE_DESCRIPTION = (
    "per record: json.loads the line, parse_response (same validation as the pipeline), "
    "build a ResponseRow ORM object, session.add, session.commit(); no redaction and no "
    "duplicate lookup, so only the write strategy favours the pipeline: the ratio is a lower "
    "bound"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- input ------------------------------------------------------------------------------------

MODELS = {  # model id -> versions
    "gpt-4o": ("2024-05-13", "2024-08-06"),
    "gpt-4o-mini": ("2024-07-18",),
    "claude-3-5-sonnet": ("20240620", "20241022"),
    "llama-3.1-70b-ft": ("ft-v3", "ft-v4"),
}
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark-med")
SEGMENTS = ("free", "pro", "enterprise")
OUTCOMES = (None, None, "converted", "resolved", "dropped", "escalated")


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


COMMON = _words(
    """the a to of and in is you your we our for on with this that it be can will please
    order account refund payment card plan subscription invoice shipping delivery item product
    service support team policy days business within after before request update change cancel
    help issue problem error message settings page app website email number address time date
    check confirm receive send return exchange credit charge fee price total balance available
    usually typically also however if when then there here more information details following
    steps first next finally sure happy understand sorry thanks thank apologize inconvenience
    able unable need needs want would could should may might just still already again only
    new old current previous same different other each every all some any most many few"""
)
TOPICAL = {
    "refund_policy": _words("refund refunds eligible original method processed returned window"),
    "order_status": _words("tracking carrier dispatched warehouse shipped estimated arrival"),
    "billing": _words("billed annual monthly prorated discount coupon tax receipt statement"),
    "product_question": _words("feature compatible model version specs warranty size color"),
    "tech_support": _words("restart reinstall cache browser firmware login sync crash logs"),
    "account_access": _words("password reset verification code locked two-factor username"),
    "shipping": _words("express standard international customs courier parcel label"),
    "medical_info": _words("dosage symptoms physician prescription appointment clinic allergy"),
}
INTENTS = tuple(TOPICAL)
# Numbers are common in real answers and wake up the redactor's digit rules without being PII.
NUMBERS = _words(
    "$49.99|30 days|2024|v3.2.1|order 48213|14:30|5-7 business days|12%|$1,250.00|3 items", "|"
)
PII = _words(
    "jane.doe@example.com|m.rossi+orders@mail.example.org|(415) 555-0199|+44 20 7946 0958|"
    "415-555-0134|support.user42@example.net",
    "|",
)


def _text(rng: random.Random, intent: str, pii: bool) -> str:
    """50-150 words in sentences of 6-18 words, with a few numbers and optionally one PII item."""
    vocab = COMMON + TOPICAL[intent] * 3
    target = rng.randint(50, 150)
    sentences: list[str] = []
    count = 0
    while count < target:
        words = rng.choices(vocab, k=min(rng.randint(6, 18), target - count + 1))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice(NUMBERS))
        count += len(words)
        sentences.append(" ".join(words).capitalize() + ".")
    if pii:
        sentences.insert(rng.randrange(len(sentences)), f"Contact me at {rng.choice(PII)}.")
    return " ".join(sentences)


def make_record(i: int, rng: random.Random, start: datetime) -> dict[str, Any]:
    model_id = rng.choice(tuple(MODELS))
    intent = rng.choice(INTENTS)
    input_tokens = rng.randint(80, 900)
    output_tokens = rng.randint(60, 400)
    record: dict[str, Any] = {
        "id": f"req-{i:08d}",
        "created_at": (start + timedelta(seconds=i * 12.1)).isoformat().replace("+00:00", "Z"),
        "tenant": rng.choice(TENANTS),
        "model_id": model_id,
        "model_version": rng.choice(MODELS[model_id]),
        "prompt_version": f"support-v{rng.randint(11, 13)}",
        "intent": intent,
        "user_segment": rng.choice(SEGMENTS),
        "prompt": _text(rng, intent, pii=rng.random() < 0.04),
        "response": _text(rng, intent, pii=rng.random() < 0.01),
        "latency_ms": round(rng.lognormvariate(6.5, 0.4), 1),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": round(input_tokens * 2.5e-6 + output_tokens * 1e-5, 6),
        "confidence": round(rng.betavariate(5, 2), 3),
        "outcome": rng.choice(OUTCOMES),
        "metadata": {
            "session_id": f"s-{rng.getrandbits(48):012x}",
            "locale": rng.choice(("en-US", "en-GB", "de-DE", "fr-FR")),
            "client": {
                "app": rng.choice(("web", "ios", "android")),
                "build": rng.randint(100, 999),
            },
            "turn": rng.randint(1, 12),
            "retrieval_docs": rng.sample(range(1, 5000), k=rng.randint(0, 4)),
        },
    }
    if record["outcome"] is None:
        del record["outcome"]
    if i % 10 == 9:  # some producers send no id: the pipeline derives one from the content
        del record["id"]
    return record


def write_input(path: Path, n: int, seed: int) -> int:
    """Write ``n`` records as JSONL; returns the file size in bytes."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(make_record(i, rng, start), ensure_ascii=False) + "\n")
    return path.stat().st_size


# -- measurements -----------------------------------------------------------------------------


def _settings(data_dir: Path, url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Wall-clock and this process's CPU seconds of the block.

    CPU well below wall means the process waited: on the database server, on the disk, or for
    a core other programs were using. It tells a slow store from a busy machine.
    """
    times: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    yield times
    times["seconds"] = round(time.perf_counter() - wall, 3)
    times["cpu_seconds"] = round(time.process_time() - cpu, 3)


def rates(count: int, took: dict[str, float]) -> dict[str, float]:
    """Records per wall second and per CPU second of this process (see ``stopwatch``)."""
    return {
        "records_per_s": round(count / took["seconds"]),
        "records_per_cpu_s": round(count / max(took["cpu_seconds"], 1e-6)),
        **took,
    }


def _count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ResponseRow)).scalar_one())


def measure_pipeline(url: str, path: Path, n: int, data_dir: Path) -> tuple[dict, Database]:
    """Ingest ``path`` into the fresh store at ``url``; returns figures and the open store."""
    db = Database.open(url)  # migrations run here, outside the clock
    settings = _settings(data_dir, url)
    ingestor = Ingestor(db, settings, IngestOptions())
    with stopwatch() as took:
        report = ingestor.ingest_files([path])
    rows = _count(db)
    figures = rates(n, took)
    return {
        "pipeline_records_per_s": figures.pop("records_per_s"),
        **figures,
        "read": report.read,
        "stored": report.stored,
        "rows_in_table": rows,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "redactions": dict(sorted(report.redactions.items())),
        "batch_size": settings.batch_size,
    }, db


def measure_reingest(db: Database, url: str, path: Path, n: int, data_dir: Path) -> dict:
    ingestor = Ingestor(db, _settings(data_dir, url), IngestOptions())
    with stopwatch() as took:
        report = ingestor.ingest_files([path])
    return {
        **rates(n, took),
        "stored": report.stored,
        "duplicates": report.duplicates,
    }


def measure_naive(url: str, path: Path, n: int) -> dict:
    """The per-row ORM loop on the first ``n`` lines, into the fresh store at ``url``."""
    db = Database.open(url)  # same engine settings (WAL, synchronous=NORMAL) as the pipeline
    limits = Limits(max_field_chars=Settings.model_fields["max_field_chars"].default)
    received_at = datetime.now(UTC)
    try:
        with path.open(encoding="utf-8") as fh, Session(db.engine) as session:
            done = 0
            with stopwatch() as took:
                for line in islice(fh, n):
                    raw = json.loads(line)
                    record = parse_response(raw, received_at=received_at, limits=limits)
                    fields = msgspec.structs.asdict(record)
                    fields["meta"] = fields.pop("metadata")
                    session.add(ResponseRow(**fields))
                    session.commit()
                    done += 1
        stored = _count(db)
    finally:
        db.dispose()
    return {
        **rates(done, took),
        "n": done,
        "rows_in_table": stored,
    }


def run_backend(
    name: str, urls: dict[str, str], path: Path, n: int, naive_n: int, work: Path
) -> tuple[dict, dict, dict | None]:
    """Pipeline, naive baseline and (SQLite only) re-ingest for one backend."""
    log(f"[{name}] pipeline: ingesting {n:,} records ...")
    pipeline, db = measure_pipeline(urls["pipeline"], path, n, work)
    log(f"[{name}] pipeline: {pipeline['pipeline_records_per_s']:,} records/s")
    reingest = None
    try:
        if name == "sqlite":
            log(f"[{name}] re-ingest of the same file ...")
            reingest = measure_reingest(db, urls["pipeline"], path, n, work)
            log(f"[{name}] re-ingest: {reingest['records_per_s']:,} records/s")
    finally:
        db.dispose()
    log(f"[{name}] naive ORM loop on {naive_n:,} records ...")
    naive = measure_naive(urls["naive"], path, naive_n)
    log(f"[{name}] naive: {naive['records_per_s']:,} records/s")
    return pipeline, naive, reingest


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_problem(server_url: str) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"no PostgreSQL at {admin.url!r} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    finally:
        admin.dispose()
    return None


@contextmanager
def postgres_databases(server_url: str, *roles: str) -> Iterator[dict[str, str]]:
    """One empty database per role on the server, dropped on the way out, even after errors."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    names = {role: f"evalkit_bench_{role}_{uuid.uuid4().hex[:10]}" for role in roles}
    created: list[str] = []
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                created.append(name)
        base = make_url(server_url)
        yield {
            role: base.set(database=name).render_as_string(hide_password=False)
            for role, name in names.items()
        }
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- driver -----------------------------------------------------------------------------------


def _ratio(pipeline: dict, naive: dict) -> float:
    return round(pipeline["pipeline_records_per_s"] / naive["records_per_s"], 1)


def _prefixed(key: str) -> str:
    return f"sqlite_{key}" if key.startswith("records_") else key


def measure(args: argparse.Namespace, pg_skip: str | None) -> dict[str, Any]:
    """Write the input, then measure every figure; returns the sections of the output."""
    results: dict[str, Any] = {}
    ratios: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        work = Path(tmp)
        path = work / "responses.jsonl"
        log(f"writing {args.n:,} records (seed {args.seed}) to {path} ...")
        file_bytes = write_input(path, args.n, args.seed)
        naive_n = min(args.naive_n, args.n)

        sqlite_urls = {role: f"sqlite:///{work / f'{role}.db'}" for role in ("pipeline", "naive")}
        pipeline, naive, again = run_backend("sqlite", sqlite_urls, path, args.n, naive_n, work)
        assert again is not None
        results["sqlite"] = pipeline
        results["sqlite_naive_orm"] = naive
        ratios["sqlite_pipeline_vs_naive"] = _ratio(pipeline, naive)
        # SQLite runs in this process, so CPU seconds hold all of its work: a ratio that a
        # busy machine disturbs far less than the wall-clock one.
        ratios["sqlite_pipeline_vs_naive_cpu"] = round(
            pipeline["records_per_cpu_s"] / naive["records_per_cpu_s"], 1
        )

        if pg_skip:
            log(f"[postgresql] skipped: {pg_skip}")
            results["postgresql"] = {"skipped": pg_skip}
            results["postgresql_naive_orm"] = {"skipped": pg_skip}
            ratios["postgresql_pipeline_vs_naive"] = None
        else:
            with postgres_databases(args.postgres_url, "pipeline", "naive") as pg_urls:
                pipeline_pg, naive_pg, _ = run_backend(
                    "postgresql", pg_urls, path, args.n, naive_n, work
                )
            results["postgresql"] = pipeline_pg
            results["postgresql_naive_orm"] = naive_pg
            ratios["postgresql_pipeline_vs_naive"] = _ratio(pipeline_pg, naive_pg)
    return {
        "file_bytes": file_bytes,
        "results": results,
        "ratios": ratios,
        "reingest": {_prefixed(key): value for key, value in again.items()},
    }


def assess(results: dict[str, Any], ratios: dict[str, float | None]) -> dict[str, bool | None]:
    """Which targets the wall-clock figures meet; None for a backend that was skipped."""
    met: dict[str, bool | None] = {}
    for backend in ("sqlite", "postgresql"):
        figures = results[backend]
        met[backend] = (
            None
            if "skipped" in figures
            else figures["pipeline_records_per_s"] >= TARGETS[f"{backend}_records_per_s"]
        )
    for backend in ("sqlite", "postgresql"):
        ratio = ratios[f"{backend}_pipeline_vs_naive"]
        met[f"{backend}_vs_naive"] = None if ratio is None else ratio >= TARGETS["vs_naive"]
    return met


def run(args: argparse.Namespace) -> int:
    pg_skip = "--skip-postgres given" if args.skip_postgres else postgres_problem(args.postgres_url)
    if pg_skip and not args.skip_postgres and os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1":
        log(f"EVALKIT_REQUIRE_SERVICES=1 but {pg_skip}")
        return 1
    load_at_start = round(os.getloadavg()[0], 2)
    sections = measure(args, pg_skip)
    output = {
        "benchmark": "ingest",
        "n": args.n,
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            # Other programs' load skews every figure; compare CPU and wall seconds per result.
            "load_average_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        },
        "file_bytes": sections["file_bytes"],
        "baseline_description": BASELINE_DESCRIPTION,
        "results": sections["results"],
        "ratios": sections["ratios"],
        "targets": TARGETS,
        "met": assess(sections["results"], sections["ratios"]),
        "reingest": sections["reingest"],
    }
    blob = json.dumps(output, indent=2)
    print(blob)
    if args.out:
        Path(args.out).write_text(blob + "\n", encoding="utf-8")
        log(f"wrote {args.out}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="records in the input file")
    parser.add_argument(
        "--naive-n", type=int, default=2_000, help="records timed through the per-row ORM loop"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the input generator")
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG_URL,
        help="server to create throwaway databases on (default: EVALKIT_TEST_POSTGRES_URL "
        "or the local server)",
    )
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.n < 1 or args.naive_n < 1:
        parser.error("--n and --naive-n must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
