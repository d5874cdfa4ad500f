"""Deterministic text assertions: exact, substring, pattern, length, latency and refusal."""

from __future__ import annotations

import re
from typing import Any

from evalkit.gate.registry import Check, Outcome, assertion, failed, passed, verdict
from evalkit.refusals import refusal_phrase


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a text value, got {type(value).__name__}")
    return str(value)


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list of texts")
    return tuple(_text(v) for v in value)


def _count(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number ≥ 0, got {value!r}")
    return float(value)


def _regex(value: Any) -> re.Pattern[str]:
    try:
        return re.compile(_text(value))
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@assertion("equals", needs_value=True, prepare=_text)
def equals(check: Check) -> Outcome:
    """Passes when the output, stripped of surrounding whitespace, equals `value` exactly."""
    return verdict(
        check.output.strip() == check.value.strip(),
        f"output {'equals' if check.output.strip() == check.value.strip() else 'differs from'} "
        f"{_quote(check.value)}",
    )


@assertion("contains", needs_value=True, prepare=_text)
def contains(check: Check) -> Outcome:
    """Passes when the output contains `value` (case-sensitive)."""
    found = check.value in check.output
    return verdict(found, f"{'contains' if found else 'does not contain'} {_quote(check.value)}")


@assertion("icontains", needs_value=True, prepare=lambda v: _text(v).casefold())
def icontains(check: Check) -> Outcome:
    """Passes when the output contains `value`, ignoring case."""
    found = check.value in check.output.casefold()
    return verdict(
        found, f"{'contains' if found else 'does not contain'} {_quote(check.value)} (any case)"
    )


@assertion("not_contains", needs_value=True, prepare=_text)
def not_contains(check: Check) -> Outcome:
    """Passes when the output does not contain `value` (case-sensitive)."""
    at = check.output.find(check.value)
    if at < 0:
        return passed(f"does not contain {_quote(check.value)}")
    return failed(f"contains {_quote(check.value)} at character {at}")


@assertion("contains_any", needs_value=True, prepare=_texts)
def contains_any(check: Check) -> Outcome:
    """Passes when the output contains at least one of the texts in the list `value`."""
    hits = [v for v in check.value if v in check.output]
    if hits:
        return passed(f"contains {_quote(hits[0])}")
    return failed("contains none of " + ", ".join(_quote(v, 30) for v in check.value))


@assertion("contains_all", needs_value=True, prepare=_texts)
def contains_all(check: Check) -> Outcome:
    """Passes when the output contains every text in the list `value`."""
    missing = [v for v in check.value if v not in check.output]
    if not missing:
        return passed(f"contains all {len(check.value)} texts")
    return failed("missing " + ", ".join(_quote(v, 30) for v in missing))


@assertion("regex", needs_value=True, prepare=_regex)
def regex(check: Check) -> Outcome:
    """Passes when the Python regular expression `value` matches anywhere in the output."""
    match = check.value.search(check.output)
    if match:
        return passed(f"/{check.value.pattern}/ matched {_quote(match.group(0), 40)}")
    return failed(f"/{check.value.pattern}/ did not match")


@assertion("starts_with", needs_value=True, prepare=_text)
def starts_with(check: Check) -> Outcome:
    """Passes when the output, after leading whitespace, starts with `value`."""
    ok = check.output.lstrip().startswith(check.value)
    begin = check.output.lstrip()[: len(check.value) + 10]
    return verdict(
        ok, f"starts with {_quote(check.value)}" if ok else f"starts with {_quote(begin)}"
    )


@assertion("max_chars", needs_value=True, prepare=_count)
def max_chars(check: Check) -> Outcome:
    """Passes when the output is at most `value` characters long."""
    n = len(check.output)
    return verdict(n <= check.value, f"{n:,} characters (limit {check.value:,.0f})", float(n))


@assertion("max_latency_ms", needs_value=True, prepare=_count)
def max_latency_ms(check: Check) -> Outcome:
    """Passes when the recorded latency is at most `value` milliseconds; fails when no latency
    was recorded (a missing measurement is not a fast one)."""
    if check.latency_ms is None:
        return failed("no latency_ms recorded for this output")
    return verdict(
        check.latency_ms <= check.value,
        f"{check.latency_ms:,.0f} ms (limit {check.value:,.0f} ms)",
        check.latency_ms,
    )


@assertion("refusal")
def refusal(check: Check) -> Outcome:
    """Passes when the output declines the request ("I can't help with that", "As an AI …"):
    for prompts a model must refuse. Pattern-based, English."""
    found = refusal_phrase(check.output)
    return verdict(found is not None, f"refuses: {_quote(found)}" if found else "does not refuse")


@assertion("no_refusal")
def no_refusal(check: Check) -> Outcome:
    """Passes when the output does not decline the request: for prompts a model must answer.
    The same patterns as `refusal`."""
    found = refusal_phrase(check.output)
    return verdict(found is None, f"refuses: {_quote(found)}" if found else "answers")
