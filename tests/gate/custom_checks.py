"""A team's own assertion functions, imported by dotted path in tests."""

from __future__ import annotations


def mentions_brand(check):
    """Passes when the answer names the shop."""
    return (
        "BrightCart" in check.output,
        "names the brand" if "BrightCart" in check.output else "no brand name",
    )


def crashes(check):
    """Always raises: the gate must report an error, not a pass."""
    return 1 / 0


def answer(case):
    """A candidate as a Python callable: answers from the prompt, crashes on 'boom'."""
    if "boom" in case.prompt:
        raise RuntimeError("model crashed")
    return {"output": f"Within 30 days: {case.prompt}", "latency_ms": 12.5}
