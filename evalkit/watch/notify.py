"""Delivering alerts to a webhook: JSON over HTTP POST, with a timeout and retries.

A delivery that fails is not lost: the alert stays open with ``notified_at`` unset, and the
next ``evalkit watch`` run tries again. A 4xx other than 408/429 is the receiver refusing the
payload, so it is not retried within a run (retrying cannot fix it); timeouts, connection
errors, 408, 429 and 5xx are, with exponential backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    detail: str


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 5.0,
    retries: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``payload`` to ``url``; ``retries`` more attempts after the first on a retryable
    failure, waiting ``backoff · 2^k`` seconds between them."""
    detail = ""
    for attempt in range(1, retries + 2):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 300:
                return Delivery(True, attempt, f"HTTP {response.status_code}")
            detail = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                return Delivery(False, attempt, f"{detail} (not retried: the receiver refused it)")
        if attempt <= retries:
            sleep(backoff * 2 ** (attempt - 1))
    return Delivery(False, retries + 1, detail)
