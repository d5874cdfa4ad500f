"""``GET /metrics``: Prometheus text from the one registry every stage adds collectors to.

The registry is ``app.state.metrics`` (a ``prometheus_client.CollectorRegistry``), created by
``metrics_registry`` the first time any stage asks, so watch's quality index and the guard's
request metrics come out of the same scrape. No token: scrapers rarely carry one, and nothing
here is a response's content.

With several worker processes (``evalkit serve --workers N``) each process counts its own
requests, and a scrape reaches one of them at random. So ``serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` before any worker starts: prometheus_client then keeps every
counter and histogram in a memory-mapped file per process, and a scrape adds them up
(``MultiProcessCollector``). Collectors that compute their values when scraped (watch's quality
index reads the store) are registered with ``add_collector`` and asked directly, once.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

router = APIRouter(tags=["metrics"])

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """Where the worker processes keep their metric files, when there are several."""
    return os.environ.get(MULTIPROC_ENV) or None


def metrics_registry(app: FastAPI) -> Any:
    """The app's registry (made on first use)."""
    from prometheus_client import CollectorRegistry

    registry = getattr(app.state, "metrics", None)
    if registry is None:
        registry = CollectorRegistry()
        app.state.metrics = registry
        app.state.metric_collectors = []
    return registry


def add_collector(app: FastAPI, collector: Any) -> None:
    """Register a collector whose values are computed at scrape time (not per process)."""
    metrics_registry(app).register(collector)
    app.state.metric_collectors.append(collector)


def process_exited() -> None:
    """Tell the multiprocess files this worker is gone (its live gauges stop counting)."""
    path = multiprocess_dir()
    if path is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), path)


class GuardMetrics:
    """The guard's collectors: requests, latency, actions per head, the live version."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "evalkit_guard_requests",
            "POST /v1/check requests by outcome.",
            ["status"],
            registry=registry,
        )
        self.checks = Counter("evalkit_guard_checks", "Responses checked.", registry=registry)
        self.latency = Histogram(
            "evalkit_guard_latency_seconds",
            "Time to answer a /v1/check request.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self.actions = Counter(
            "evalkit_guard_actions",
            "Checks by action, per head that caused it (head=none: allow).",
            ["head", "action"],
            registry=registry,
        )
        self.version = Gauge(
            "evalkit_guard_classifier_info",
            "The classifier version the guard serves (value 1).",
            ["version"],
            registry=registry,
            multiprocess_mode="livemax",
        )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = metrics_registry(request.app)
    path = multiprocess_dir()
    if path is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        for collector in request.app.state.metric_collectors:
            registry.register(collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
