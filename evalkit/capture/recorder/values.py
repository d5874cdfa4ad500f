"""Python values a service hands the SDK, made storable as JSON metadata.

Services pass Python objects (datetimes, decimals, enums, sets) where files and HTTP bodies can
only hold JSON, so only ``Recorder`` needs this.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import date
from datetime import time as clock_time
from typing import Any


def json_safe_extras(raw: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Make the fields that end up in the JSON ``metadata`` column storable; known fields
    are left alone for validation."""
    return {k: (v if k in known else jsonable(v)) for k, v in raw.items()}


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: NaN, dates and unknown objects as text, containers as lists."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return (
            value if math.isfinite(value) else str(value)
        )  # JSON has no NaN; PostgreSQL refuses it
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, date | clock_time):
        return value.isoformat()
    return str(value)
