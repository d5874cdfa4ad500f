"""Durations as policy files write them (``30min``, ``6h``, ``1d``, ``2w``), shared by the
sampling policy (SLAs, look-backs) and the watch rules (windows, persistence).

A bare ``m`` is refused: it reads as months as easily as minutes.
"""

from __future__ import annotations

import re
from datetime import timedelta

from evalkit.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(min|h|d|w)\s*$")
_UNITS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | int | float, what: str) -> timedelta:
    """``30min``, ``6h``, ``1d``, ``2w`` (a bare number is hours)."""
    if isinstance(text, bool):
        raise UsageError(f"{what}: expected a duration such as 6h, 1d or 2w (got {text!r})")
    if isinstance(text, int | float):
        return timedelta(hours=float(text))
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"{what}: expected a duration such as 6h, 1d or 2w (got {text!r})")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
