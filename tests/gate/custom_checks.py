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
