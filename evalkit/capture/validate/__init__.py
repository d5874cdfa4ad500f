"""Turning one raw input record (a dict from a file, a request or the SDK) into a domain record.

Rules a user can rely on:
- ``response`` is required; every other known field is optional. Unknown fields are kept, in
  ``metadata``, never dropped and never an error.
- Types are checked, with the coercions a CSV needs ("12.5" is a number; an empty cell is
  missing; a ``metadata`` cell holding a JSON object is that object) and none that hide
  mistakes (``true`` is not a token count, ``NaN`` is not a cost, ``metadata`` text that is not
  a JSON object is an error). Coercions apply to every input kind alike, so a JSONL line or a
  request may give ``metadata`` as JSON text too.
- ``created_at`` is an ISO-8601 timestamp (naive ones are UTC), a date alone (its midnight,
  UTC), or epoch seconds or milliseconds.
- Text is bounded (``max_field_chars``) and must be valid UTF-8; every problem names its field.
- A record without ``id`` gets one derived from its content, so re-ingesting it is a no-op.

This package is where the rest of evalkit imports validation from, so callers need not know
how it is split: ``fields`` holds what every kind shares (normalisation, storability,
error wording), ``response`` the responses, ``feedback`` feedback events and
labels. The names below are the same objects, so importing them from here costs nothing.
"""

from __future__ import annotations

from evalkit.capture.validate.feedback import (
    FEEDBACK_FIELDS,
    FeedbackInput,
    parse_feedback,
    parse_labels,
)
from evalkit.capture.validate.fields import FieldProblem, Limits, input_schema
from evalkit.capture.validate.response import (
    RESPONSE_FIELDS,
    ResponseInput,
    parse_response,
    response_record,
)

__all__ = [
    "FEEDBACK_FIELDS",
    "RESPONSE_FIELDS",
    "FeedbackInput",
    "FieldProblem",
    "Limits",
    "ResponseInput",
    "input_schema",
    "parse_feedback",
    "parse_labels",
    "parse_response",
    "response_record",
]
