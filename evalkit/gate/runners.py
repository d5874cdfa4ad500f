"""Runners: produce a candidate's outputs for a suite's cases.

- a live OpenAI-compatible endpoint (``/chat/completions``), called concurrently with a timeout
  per request and retries with backoff on timeouts, connection errors, 429 and 5xx;
- a Python callable ``module:function`` taking a ``Case`` and returning the text (or
  ``{"output": ..., "latency_ms": ...}``).

(Recorded outputs need no runner: ``outputs.load_outputs``.) Either way the result is a list of
``CandidateOutput`` that the caller saves with ``save_outputs``, so the run can be judged again
and become the next baseline. A request that still fails after its retries is recorded as an
output with an ``error``, which the gate counts as a failed case — never as a pass.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.errors import UsageError
from evalkit.gate.outputs import CandidateOutput
from evalkit.gate.suite import Case, Suite

#: Statuses worth retrying: rate limits and server-side failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class EndpointConfig:
    url: str
    model: str
    api_key: str | None = None
    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 2
    temperature: float | None = None
    max_tokens: int | None = None
    #: base of the exponential backoff between retries, in seconds
    backoff_s: float = 0.5

    @property
    def completions_url(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"


def messages_for(case: Case) -> list[dict[str, str]]:
    """The chat a case sends: its ``messages``, or its ``prompt`` after its ``context`` (as a
    system message, the way retrieval-augmented services usually pass it)."""
    if case.messages is not None:
        return [dict(m) for m in case.messages]
    chat = []
    if case.context:
        chat.append({"role": "system", "content": f"Answer using this context:\n{case.context}"})
    chat.append({"role": "user", "content": case.prompt or ""})
    return chat


def run_endpoint(
    suites: Sequence[Suite], config: EndpointConfig, *, repeat: int = 1
) -> list[CandidateOutput]:
    """Every case of every suite, ``repeat`` times, against the endpoint; in suite order."""
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    jobs = [(s.name, case) for s in suites for case in s.cases for _ in range(repeat)]
    return asyncio.run(_run_all(jobs, config))


async def _run_all(jobs: list[tuple[str, Case]], config: EndpointConfig) -> list[CandidateOutput]:
    import httpx

    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    limits = httpx.Limits(max_connections=config.concurrency)
    gate = asyncio.Semaphore(config.concurrency)
    async with httpx.AsyncClient(
        headers=headers, timeout=config.timeout_s, limits=limits
    ) as client:

        async def one(suite: str, case: Case) -> CandidateOutput:
            async with gate:
                return await _call(client, config, suite, case)

        return list(await asyncio.gather(*(one(s, c) for s, c in jobs)))


async def _call(client: Any, config: EndpointConfig, suite: str, case: Case) -> CandidateOutput:
    import httpx

    body: dict[str, Any] = {"model": config.model, "messages": messages_for(case)}
    if config.temperature is not None:
        body["temperature"] = config.temperature
    if config.max_tokens is not None:
        body["max_tokens"] = config.max_tokens
    last = "no attempt made"
    for attempt in range(config.retries + 1):
        if attempt:
            await asyncio.sleep(min(10.0, config.backoff_s * 2 ** (attempt - 1)))
        started = time.perf_counter()
        try:
            response = await client.post(config.completions_url, json=body)
        except httpx.TimeoutException:
            last = f"timed out after {config.timeout_s:g} s"
            continue
        except httpx.TransportError as exc:
            last = f"cannot reach {config.completions_url}: {exc}"
            continue
        latency = (time.perf_counter() - started) * 1000
        if response.status_code in RETRY_STATUS:
            last = f"HTTP {response.status_code} from the endpoint"
            continue
        if response.status_code >= 400:
            return _error(case, suite, f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _error(case, suite, f"not a chat completion: {response.text[:200]}")
        if not isinstance(text, str):
            return _error(case, suite, "the completion has no text content")
        return CandidateOutput(case.id, text, round(latency, 3), suite=suite)
    return _error(case, suite, f"{last} ({config.retries + 1} attempts)")


def _error(case: Case, suite: str, message: str) -> CandidateOutput:
    return CandidateOutput(case.id, None, None, error=message, suite=suite)


def load_callable(path: str) -> Callable[[Case], Any]:
    """``package.module:function`` → the function. Raises ``UsageError`` saying what failed."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--callable expects module:function, got {path!r}")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        raise UsageError(f"cannot import --callable {path!r}: {exc}") from None
    if not callable(fn):
        raise UsageError(f"--callable {path!r} is not a function")
    return fn


def run_callable(
    suites: Sequence[Suite], fn: Callable[[Case], Any], *, repeat: int = 1
) -> list[CandidateOutput]:
    """Call ``fn(case)`` for every case, ``repeat`` times. An exception is that run's error."""
    if repeat < 1:
        raise UsageError("--repeat must be at least 1")
    rows = []
    for suite in suites:
        for case in suite.cases:
            for _ in range(repeat):
                started = time.perf_counter()
                try:
                    result = fn(case)
                except Exception as exc:
                    rows.append(_error(case, suite.name, f"raised {type(exc).__name__}: {exc}"))
                    continue
                latency = round((time.perf_counter() - started) * 1000, 3)
                if isinstance(result, dict):
                    text = result.get("output")
                    latency = result.get("latency_ms", latency)
                else:
                    text = result
                if not isinstance(text, str):
                    rows.append(_error(case, suite.name, f"returned {type(text).__name__}"))
                    continue
                rows.append(CandidateOutput(case.id, text, latency, suite=suite.name))
    return rows
