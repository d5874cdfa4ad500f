"""HTTP ingest under concurrency, beside file ingest of the same records in the same run.

Usage (from the project root)::

    .venv/bin/python benchmarks/http_ingest.py                    # SQLite + PostgreSQL
    .venv/bin/python benchmarks/http_ingest.py --requests 5 --skip-postgres   # 10,000 records

Per store, against fresh stores:

* ``file``: ``Ingestor.ingest_files`` on a JSONL file of ``clients * requests * batch`` records
  (the same generator as ``benchmarks/ingest.py``): the in-run baseline.
* ``http``: a real ``evalkit serve`` (uvicorn, one process by default, ``--workers N`` for
  more; it prepares batches of 50 or more records in its pool of one process per core, as file
  ingest prepares large inputs on every core) and ``--clients``
  concurrent keep-alive clients, each sending ``--requests`` POSTs of ``--batch`` other records
  of the same kind, one after another (a closed loop). The clients write prepared HTTP/1.1
  requests to plain sockets, so their own CPU is a few percent of the server's (an httpx client
  took a quarter of the two cores); records/s is over the wall time of the whole run, latency
  is per request.

Prints one JSON object on stdout (progress on stderr), with the HTTP/file ratio per store and
whether the targets hold (HTTP ≥ 50% of file ingest; p99 ≤ 250 ms on PostgreSQL). The machine's
other load moves these figures: compare the ratio, which both sides of one run share, and the
ratio per CPU second (the server process's CPU against the file ingest's), which other load
moves least. The PostgreSQL server's own CPU is in neither.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def _load_sibling(name: str, filename: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


file_bench = _load_sibling("ingest_bench", "ingest.py")
loadgen = _load_sibling("loadgen", "loadgen.py")

SEED = 20_261_202
TOKEN = "bench-token"
TARGETS = {"http_vs_file": 0.5, "postgresql_p99_ms": 250}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_records(n: int, seed: int, offset: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        record = file_bench.make_record(offset + i, rng, start)
        record.setdefault("id", f"req-{offset + i:08d}")  # distinct ids: all are new
        records.append(record)
    return records


def measure_file(url: str, records: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    from evalkit.capture.ingest import IngestOptions, Ingestor
    from evalkit.store.database import Database

    path = work / "file.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    db = Database.open(url)
    try:
        settings = file_bench._settings(work, url)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        pg_before = _postgres_cpu_seconds() if url.startswith("postgresql") else None
        with file_bench.stopwatch() as took:
            report = Ingestor(db, settings, IngestOptions()).ingest_files([path])
        pg_after = _postgres_cpu_seconds() if pg_before is not None else None
        assert report.stored == len(records), report
        # Inputs of 16 MB or more are prepared by worker processes: their CPU counts too.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    finally:
        db.dispose()
    return {
        "records_per_s": round(len(records) / took["seconds"]),
        **took,
        "worker_cpu_seconds": round(workers, 3),
        **(
            {"postgres_cpu_seconds": round(pg_after - pg_before, 3)}
            if pg_before is not None and pg_after is not None
            else {}
        ),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, work: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "EVALKIT_API_TOKEN": TOKEN,
        "EVALKIT_DATABASE_URL": url,
        "EVALKIT_DATA_DIR": str(work / "data"),
    }
    evalkit = Path(sys.executable).parent / "evalkit"
    log_file = (work / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(evalkit), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"evalkit serve exited: see {log_file.name}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("evalkit serve did not answer /healthz within 90 s")


async def _client(
    base: str, requests: list[bytes], latencies: list[float], statuses: list[int]
) -> None:
    """One keep-alive client sending its prepared requests one after another
    (``benchmarks/loadgen.py``: a few percent of the server's CPU, where httpx took a quarter)."""
    connection = await loadgen.Connection.open(base)
    try:
        for request in requests:
            latency, status = await connection.exchange(request)
            latencies.append(latency)
            statuses.append(status)
    finally:
        connection.close()


def _request(base: str, body: bytes) -> bytes:
    return loadgen.request_bytes(base, "/v1/responses", body, token=TOKEN)


async def _load(base: str, per_client: list[list[bytes]]) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    began = time.perf_counter()
    await asyncio.gather(*(_client(base, bodies, latencies, statuses) for bodies in per_client))
    return time.perf_counter() - began, latencies, statuses


def _postgres_cpu_seconds() -> float | None:
    """CPU seconds of every local ``postgres`` process so far (live ones: a backend that exits
    takes its share along), or None where /proc shows none (a remote server)."""
    total, seen = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        if name.startswith("postgres"):
            seen = True
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total if seen else None


def measure_http(url: str, records: list[dict[str, Any]], args: argparse.Namespace, work: Path):
    batches = [records[i : i + args.batch] for i in range(0, len(records), args.batch)]
    bodies = [json.dumps({"records": batch}).encode() for batch in batches]
    server, base = start_server(url, work, args.workers)
    per_client = [
        [_request(base, body) for body in bodies[c :: args.clients]] for c in range(args.clients)
    ]
    try:
        # One warm-up request per client opens a connection and the server's pool.
        warm = [[_request(base, b'{"records": []}')] for _ in range(args.clients)]
        asyncio.run(_load(base, warm))
        cpu_before, pg_before = loadgen.cpu_seconds(server.pid), _postgres_cpu_seconds()
        client_before = time.process_time()
        wall, latencies, statuses = asyncio.run(_load(base, per_client))
        client_cpu = time.process_time() - client_before
        server_cpu = loadgen.cpu_seconds(server.pid) - cpu_before
        pg_after = _postgres_cpu_seconds()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert set(statuses) == {201}, sorted(set(statuses))
    return {
        "server_workers": args.workers,
        "records_per_s": round(len(records) / wall),
        "seconds": round(wall, 3),
        "server_cpu_seconds": round(server_cpu, 3),
        "records_per_server_cpu_s": round(len(records) / max(server_cpu, 1e-6)),
        "client_cpu_seconds": round(client_cpu, 3),
        **(
            {"postgres_cpu_seconds": round(pg_after - pg_before, 3)}
            if url.startswith("postgresql") and pg_before is not None and pg_after is not None
            else {}
        ),
        "requests": len(latencies),
        "p50_ms": round(loadgen.percentile(latencies, 0.50) * 1000, 1),
        "p90_ms": round(loadgen.percentile(latencies, 0.90) * 1000, 1),
        "p99_ms": round(loadgen.percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def run_store(name: str, urls: dict[str, str], args: argparse.Namespace, work: Path) -> dict:
    n = args.clients * args.requests * args.batch
    file_records = make_records(n, SEED, 0)
    http_records = make_records(n, SEED + 1, n)  # other ids, same kind of records
    log(f"[{name}] file ingest of {n:,} records ...")
    file_figures = measure_file(urls["file"], file_records, work)
    log(f"[{name}] file: {file_figures['records_per_s']:,} records/s")
    log(f"[{name}] HTTP: {args.clients} clients x {args.requests} batches of {args.batch} ...")
    http_figures = measure_http(urls["http"], http_records, args, work)
    log(
        f"[{name}] HTTP: {http_figures['records_per_s']:,} records/s, "
        f"p50 {http_figures['p50_ms']} ms, p99 {http_figures['p99_ms']} ms"
    )
    ratio = round(http_figures["records_per_s"] / file_figures["records_per_s"], 3)
    file_cpu = file_figures["cpu_seconds"] + file_figures["worker_cpu_seconds"]
    file_per_cpu = len(file_records) / max(file_cpu, 1e-6)
    cpu_ratio = round(http_figures["records_per_server_cpu_s"] / file_per_cpu, 3)
    return {
        "file": {**file_figures, "records_per_cpu_s": round(file_per_cpu)},
        "http": http_figures,
        "http_vs_file": ratio,
        "http_vs_file_per_cpu_s": cpu_ratio,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10, help="POSTs per client")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="evalkit serve --workers (server processes; each has its own preparing pool)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--postgres-url", default=file_bench.DEFAULT_PG_URL)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="evalkit-http-bench-") as tmp:
        work = Path(tmp)
        sqlite = {role: f"sqlite:///{work / f'{role}.db'}" for role in ("file", "http")}
        results["sqlite"] = (
            {"skipped": "--skip-sqlite given"}
            if args.skip_sqlite
            else run_store("sqlite", sqlite, args, work)
        )
        problem = None if args.skip_postgres else file_bench.postgres_problem(args.postgres_url)
        if args.skip_postgres or problem:
            results["postgresql"] = {"skipped": problem or "--skip-postgres given"}
        else:
            with file_bench.postgres_databases(args.postgres_url, "file", "http") as pg:
                results["postgresql"] = run_store("postgresql", pg, args, work)
    pg = results["postgresql"]
    met = {
        "sqlite_http_vs_file": None
        if "skipped" in results["sqlite"]
        else results["sqlite"]["http_vs_file"] >= TARGETS["http_vs_file"],
        "postgresql_http_vs_file": None
        if "skipped" in pg
        else pg["http_vs_file"] >= TARGETS["http_vs_file"],
        "postgresql_p99": None
        if "skipped" in pg
        else pg["http"]["p99_ms"] <= TARGETS["postgresql_p99_ms"],
    }
    out = {
        "benchmark": "http_ingest",
        "clients": args.clients,
        "batch": args.batch,
        "requests_per_client": args.requests,
        "records": args.clients * args.requests * args.batch,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "targets": TARGETS,
        "met": met,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
