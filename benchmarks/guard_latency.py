"""Guard latency: how long ``Guard.load`` takes, ``check()`` p50/p99 on ~150-word responses,
batch throughput and HTTP latency at 50 concurrent clients, each beside sentence-transformers
MiniLM encode + logistic regression measured in the same run. Prints JSON.

    .venv/bin/python benchmarks/guard_latency.py                       # ~3-6 min on 2 busy cores
    .venv/bin/python benchmarks/guard_latency.py --classifier classifiers/rc-... --skip-http

Without ``--classifier`` it trains a three-head classifier on ``--n-train`` labels per shared
dataset first (not timed). Targets (issue 8): p50 ≤ 5 ms, p99 ≤ 15 ms in-process, batch ≥ 500
responses/s, HTTP p99 ≤ 25 ms, AP of the served path within 0.01 of the unoptimised one.

HTTP is measured twice. ``paced``: 50 clients sending ``--rate`` requests/s between them on a
fixed schedule, each latency counted from the request's scheduled time (so a server that falls
behind is charged for the wait): what 50 services calling the guard see. ``saturated``: the
same 50 clients sending back to back, which measures throughput; there every request waits for
the 49 ahead of it, so its latency is about 50 / throughput (Little's law) whatever the guard
costs, and p99 ≤ 25 ms would need > 2,000 requests/s from one Python process on 2 cores,
load generator included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evalkit.learn.baselines import joined
from evalkit.learn.data import Example, labelled_set, read_interchange
from evalkit.learn.embed import MiniLMEncoder, ensure_static_model
from evalkit.learn.protocol import TASKS, default_datasets_dir, draw, load_task


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pct(values: list[float]) -> dict[str, float]:
    arr = np.array(values)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
        "n": len(values),
    }


def texts_of_150_words(datasets: Path, n: int) -> list[Example]:
    """Real responses (HaluEval) cut to 150 words, with their prompts: the issue's workload."""
    rows = [ex for ex, _ in read_interchange(datasets / "halueval_general.jsonl")]
    long = [ex for ex in rows if len(ex.response.split()) >= 150] or rows
    out = [Example(response=" ".join(ex.response.split()[:150]), prompt=ex.prompt) for ex in long]
    return (out * (n // len(out) + 1))[:n]


def train_guard(datasets: Path, n_train: int, out: Path, cache: Path) -> Path:
    from evalkit.learn.train import TrainOptions, train_classifier

    sets = {}
    for task in TASKS:
        pool, _test = load_task(task, datasets, seed=0)
        sets[task.head] = draw(pool, n_train, rng=np.random.default_rng(0))
    result = train_classifier(
        sets, TrainOptions(folds=3, cs=(1.0,)), out_dir=out, encoder_dir=ensure_static_model(cache)
    )
    return result.path


def in_process(guard, texts: list[Example], n_single: int) -> dict:
    for ex in texts[:20]:
        guard.check(prompt=ex.prompt, response=ex.response)
    single = []
    for ex in texts[:n_single]:
        started = time.perf_counter()
        guard.check(prompt=ex.prompt, response=ex.response)
        single.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    done = 0
    for i in range(0, len(texts), 256):
        done += len(guard.check_many(texts[i : i + 256]))
    return {"single": _pct(single), "batch_per_s": round(done / (time.perf_counter() - started), 1)}


def baseline(texts: list[Example], datasets: Path, n_single: int) -> dict:
    """sentence-transformers MiniLM encode + logistic regression, the same workload."""
    from sklearn.linear_model import LogisticRegression

    train = labelled_set("harm", read_interchange(datasets / "diasafety_val.jsonl"))
    encoder = MiniLMEncoder()
    model = LogisticRegression(max_iter=2000).fit(
        encoder.encode(joined(train.examples[:300])), train.y[:300]
    )
    single = []
    for i, ex in enumerate(texts[:n_single]):
        started = time.perf_counter()
        encoder._cache.clear()  # measure the encoder, not the cache
        model.predict_proba(encoder.encode([f"{ex.prompt}\n{ex.response}#{i}"]))
        single.append((time.perf_counter() - started) * 1000)
    batch = [f"{ex.prompt}\n{ex.response}#b{i}" for i, ex in enumerate(texts[:256])]
    started = time.perf_counter()
    model.predict_proba(encoder.encode(batch))
    return {
        "single": _pct(single),
        "batch_per_s": round(len(batch) / (time.perf_counter() - started), 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _clients(
    url: str, texts: list[Example], clients: int, per_client: int, rate: float | None = None
) -> tuple[list[float], float]:
    """(latencies in ms, wall seconds). ``rate``: requests/s over all clients on a schedule
    (client k sends at offset + j * clients / rate; latency counted from that time);
    None: back to back."""
    import httpx

    latencies: list[float] = []
    interval = clients / rate if rate else 0.0
    rng = np.random.default_rng(0)
    offsets = rng.uniform(0, interval, size=clients) if rate else np.zeros(clients)
    connected = 0
    ready = asyncio.Event()
    start = 0.0

    async def one(k: int) -> None:
        nonlocal connected, start
        async with httpx.AsyncClient(
            headers={"Authorization": "Bearer bench"}, timeout=30
        ) as client:
            # Every client is built and connected before the clock starts: building 50 clients
            # (an SSL context each) takes about a second, which is the load generator's, not
            # the server's.
            await client.get(url.rsplit("/v1/", 1)[0] + "/healthz")
            connected += 1
            if connected == clients:
                start = time.perf_counter() + 0.05
                ready.set()
            await ready.wait()
            for j in range(per_client):
                ex = texts[(k * per_client + j) % len(texts)]
                due = start + offsets[k] + j * interval
                if rate:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    started = due
                else:
                    started = time.perf_counter()
                answer = await client.post(url, json={"prompt": ex.prompt, "response": ex.response})
                latencies.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()

    await asyncio.gather(*(one(k) for k in range(clients)))
    return latencies, time.perf_counter() - start


def over_http(
    artifact: Path, texts: list[Example], clients: int, per_client: int, rate: float
) -> dict:
    """A real `evalkit serve` on loopback with the artifact active; 50 concurrent clients,
    paced at ``rate`` requests/s, then back to back (module docstring)."""
    import httpx

    from evalkit.learn.artifact import read_metadata
    from evalkit.learn.train import model_sha256, thresholds_of
    from evalkit.records import utcnow
    from evalkit.store.classifiers import register_classifier
    from evalkit.store.database import Database

    work = Path(tempfile.mkdtemp(prefix="evalkit-guard-bench-"))
    url = f"sqlite:///{work / 'evalkit.db'}"
    db = Database.open(url)
    meta = read_metadata(artifact)
    register_classifier(
        db,
        version=meta["version"],
        heads=list(meta["heads"]),
        artifact_path=str(artifact.resolve()),
        artifact_sha256=model_sha256(meta),
        thresholds=thresholds_of(meta),
        metrics={},
        trained_at=utcnow(),
    )
    db.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "EVALKIT_DATABASE_URL": url,
        "EVALKIT_API_TOKEN": "bench",
        "EVALKIT_DATA_DIR": str(work),
    }
    command = [str(Path(sys.executable).parent / "evalkit"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                return {"skipped": "the server did not start"}
            time.sleep(0.3)
        url = f"{base}/v1/check"
        asyncio.run(_clients(url, texts, clients, 4))  # warm-up: every client, every thread
        paced, paced_s = asyncio.run(_clients(url, texts, clients, per_client, rate))
        saturated, saturated_s = asyncio.run(_clients(url, texts, clients, per_client))
        return {
            "clients": clients,
            "paced": {
                **_pct(paced),
                "rate_asked_per_s": rate,
                "rate_done_per_s": round(len(paced) / paced_s, 1),
            },
            "saturated": {**_pct(saturated), "per_s": round(len(saturated) / saturated_s, 1)},
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument(
        "--classifier", type=Path, help="an existing artifact directory (no training)"
    )
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-single", type=int, default=300)
    parser.add_argument("--n-batch", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="paced HTTP: requests/s over all clients"
    )
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=Path(".evalkit") / "cache")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.datasets.exists():
        print(json.dumps({"skipped": f"{args.datasets} is absent"}))
        return 1 if os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1" else 0
    from evalkit.guard import Guard

    artifact = args.classifier
    if artifact is None:
        _log("training a classifier (not timed)")
        artifact = train_guard(
            args.datasets,
            args.n_train,
            Path(tempfile.mkdtemp(prefix="evalkit-guard-cls-")),
            args.cache_dir,
        )
    texts = texts_of_150_words(args.datasets, args.n_batch)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    guard = Guard.load(artifact)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    guard.check(prompt=texts[0].prompt, response=texts[0].response)
    first_ms = (time.perf_counter() - started) * 1000
    _log("in-process")
    result: dict = {
        "machine": f"{os.cpu_count()} cores, shared with other work",
        "load_average_1min": {"start": round(load_before, 2)},
        "words_per_response": 150,
        "classifier": guard.classifier_version,
        "load": {
            "guard_load_s": round(load_s, 3),
            "first_check_ms": round(first_ms, 3),
            "model_file_mb": round((Path(artifact) / "model.skops").stat().st_size / 1e6, 2),
        },
        "guard": in_process(guard, texts, args.n_single),
    }
    # The served path (compiled) against the unoptimised sklearn path: same scores, same AP.
    _pool, test = load_task(TASKS[0], args.datasets, seed=0)
    fast = guard.scorer.predict_scores(test.examples[:400])["harm"]
    slow = guard.artifact.model.predict_scores(test.examples[:400])["harm"]
    from sklearn.metrics import average_precision_score

    y = test.y[:400]
    result["ap_served_vs_unoptimised"] = {
        "served": round(float(average_precision_score(y, fast)), 4),
        "unoptimised": round(float(average_precision_score(y, slow)), 4),
        "max_score_difference": float(np.max(np.abs(fast - slow))),
    }
    _log("baseline: sentence-transformers + LR")
    result["minilm_lr_baseline"] = baseline(texts, args.datasets, min(args.n_single, 60))
    if not args.skip_http:
        _log("HTTP")
        result["http"] = over_http(artifact, texts, args.clients, args.per_client, args.rate)
    result["load_average_1min"]["end"] = round(os.getloadavg()[0], 2)
    g = result["guard"]
    result["targets_met"] = {
        "p50<=5ms": g["single"]["p50_ms"] <= 5,
        "p99<=15ms": g["single"]["p99_ms"] <= 15,
        "batch>=500/s": g["batch_per_s"] >= 500,
        "http_paced_p99<=25ms": (
            result["http"].get("paced", {}).get("p99_ms", 1e9) <= 25 if not args.skip_http else None
        ),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
