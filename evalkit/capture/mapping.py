"""Input columns under other names: ``--map FIELD=COLUMN``, checked, then applied per record.

Users' logs rarely use evalkit's field names (``output`` for ``response``, ``meta.model`` for
``model_id``). ``parse_mapping`` turns the command-line pairs into a mapping and refuses what
would silently lose data (a field evalkit does not have, one field mapped twice);
``apply_mapping`` renames a raw record's columns before validation, so errors can still name
the column a user knows (see ``Preparer._field_name``). Kept apart from ``prepare`` so worker
processes import only what they need.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from evalkit.capture.validate import FEEDBACK_FIELDS, RESPONSE_FIELDS
from evalkit.errors import UsageError

Kind = Literal["responses", "feedback", "labelled"]

#: The fields ``--map`` may fill, per kind. Any other name would be kept in ``metadata`` and
#: the column it names would go missing from the record without a word.
MAPPABLE_FIELDS: dict[str, frozenset[str]] = {
    "responses": RESPONSE_FIELDS,
    "feedback": FEEDBACK_FIELDS,
    "labelled": RESPONSE_FIELDS | {"labels"},
}
_RECORD_NOUN = {
    "responses": "a response",
    "feedback": "a feedback event",
    "labelled": "a labelled response",
}


def parse_mapping(pairs: Sequence[str], *, kind: Kind) -> dict[str, str]:
    """``["response=output", "model_id=meta.model"]`` → ``{"response": "output", ...}``.

    Raises ``UsageError`` for a pair that is not ``field=column``, a field that ``kind``
    records do not have, or a field given twice.
    """
    fields = MAPPABLE_FIELDS[kind]
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or not target or not column:
            raise UsageError(f"--map expects field=column, got {pair!r}")
        if target not in fields:
            close = difflib.get_close_matches(target.lower(), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(
                f"--map {pair!r}: {target!r} is not a field of {_RECORD_NOUN[kind]}{hint}; "
                f"fields: {', '.join(sorted(fields))}"
            )
        if target in mapping:
            raise UsageError(
                f"--map names {target!r} twice ({target}={mapping[target]} and {pair.strip()})"
            )
        mapping[target] = column
    return mapping


def apply_mapping(raw: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Rename source columns to evalkit fields; a dotted column reaches into nested objects.

    Every value is read from the record as given, before anything is moved: with
    ``response=output`` and ``prompt=response`` the prompt is the input's ``response``, whatever
    order the pairs come in.
    """
    values: dict[str, Any] = {}
    for target, column in mapping.items():
        if column in raw:
            values[target] = raw[column]
            continue
        value: Any = raw
        for part in column.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                break
        else:
            values[target] = value
    data = {key: value for key, value in raw.items() if key not in mapping.values()}
    data.update(values)
    return data
