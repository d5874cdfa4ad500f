"""PII redaction: one string (``Redactor``) or a whole record (``redact_record``).

``redactor`` decides which rules run and in what order; ``patterns`` (e-mail, card, ip, phone)
and ``secrets`` (credentials) say what each rule matches and why; ``gates`` holds the cheap
tests that let a text skip rules; ``record`` applies a ``Redactor`` to every text of a record.
"""

from __future__ import annotations

from evalkit.capture.redact.patterns import REPLACEMENTS
from evalkit.capture.redact.record import add_counts, may_contain_pii, redact_record
from evalkit.capture.redact.redactor import Redactor

__all__ = ["REPLACEMENTS", "Redactor", "add_counts", "may_contain_pii", "redact_record"]
