"""``GET /metrics``: Prometheus text from the one registry every stage adds collectors to.

The registry is ``app.state.metrics`` (a ``prometheus_client.CollectorRegistry``), created by
``metrics_registry`` the first time any stage asks, so watch's quality index and the guard's
request metrics come out of the same scrape. No token: scrapers rarely carry one, and nothing
here is a response's content.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

router = APIRouter(tags=["metrics"])


def metrics_registry(app: FastAPI) -> Any:
    """The app's registry (made on first use)."""
    from prometheus_client import CollectorRegistry

    registry = getattr(app.state, "metrics", None)
    if registry is None:
        registry = CollectorRegistry()
        app.state.metrics = registry
    return registry


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
        )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(metrics_registry(request.app)), media_type=CONTENT_TYPE_LATEST)
