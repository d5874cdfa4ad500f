"""PII redaction applied to every text field before anything is stored.

Each kind in ``PII_KINDS`` is replaced by a fixed token (``REPLACEMENTS``), so a stored text
still reads naturally ("mail me at [EMAIL]") and counts per kind go into the ingest report.
This module decides which rules run and how often; what each rule matches, and why, is in
``patterns`` (e-mail, card, ip, phone) and ``secrets`` (credentials), and the
cheap tests that let a text skip rules in ``gates``.

Why it is built this way:

* **Order.** Secrets run first because keys contain digits and ``@`` that the other rules
  would otherwise take apart; then email (an address may contain digits), card, ip, phone.
* **Speed.** Ingest redacts several fields per record at 20k records/s, so each rule sits
  behind a substring pre-check (a digit, ``@``, a secret marker) and a text with none of them
  costs a few microseconds and no regex scan. A pass over a text without a run of digits
  skips the card, ip and phone rules outright.
* **Idempotent.** Tokens contain no digit, ``@`` or secret marker, and no rule can match
  them. Because rules look at their neighbours ("a digit right before it: part of a longer
  number"), replacing one item can free its neighbour for a second look, so redaction repeats
  until a pass changes nothing. That makes ``redact(redact(x)) == redact(x)`` hold by
  construction; a second pass is usually one cheap pre-check, since the first removed the
  digits and ``@`` that triggered it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from evalkit.capture.redact.gates import may_have_secret, may_hold_digit_pii
from evalkit.capture.redact.patterns import (
    REPLACEMENTS,
    redact_cards,
    redact_emails,
    redact_ips,
    redact_phones,
)
from evalkit.capture.redact.secrets import redact_secrets
from evalkit.records import PII_KINDS

__all__ = ["REPLACEMENTS", "Redactor"]

#: Rules run in this order (see the module docstring).
_ORDER = ("secret", "email", "card", "ip", "phone")

#: No item of any kind is shorter than this ("a@b.co"); metadata is full of shorter strings.
_SHORTEST = 6

#: Passes are repeated until nothing changes; each change removes text outside tokens, so
#: this cap is only a guard against a future rule that breaks that property.
_MAX_PASSES = 8

_Rule = Callable[[str], tuple[str, int]]
#: Per kind, a test that is False only when that kind's rule cannot change the text.
_GATES: dict[str, Callable[[str], bool]] = {
    "secret": may_have_secret,
    "email": lambda text: "@" in text,
    "card": may_hold_digit_pii,
    "ip": may_hold_digit_pii,
    "phone": may_hold_digit_pii,
}
_DIGIT_RULES: dict[str, _Rule] = {
    "card": redact_cards,
    "ip": redact_ips,
    "phone": redact_phones,
}
_RULES: dict[str, _Rule] = {
    "secret": redact_secrets,
    "email": redact_emails,
    **_DIGIT_RULES,
}


class Redactor:
    """Replaces PII of the chosen kinds with ``REPLACEMENTS`` tokens.

    ``kinds`` is any subset of ``PII_KINDS``; order does not matter (rules always run in the
    order the module docstring explains). A single string is taken as one kind.
    """

    def __init__(self, kinds: Iterable[str] = PII_KINDS) -> None:
        chosen = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = sorted(set(chosen) - set(PII_KINDS))
        if unknown:
            raise ValueError(
                f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(PII_KINDS)}"
            )
        self.kinds = chosen
        self._rules = tuple((kind, _RULES[kind]) for kind in _ORDER if kind in chosen)
        self._digit_free_rules = tuple(r for r in self._rules if r[0] not in _DIGIT_RULES)
        self._gates = tuple(dict.fromkeys(_GATES[kind] for kind, _ in self._rules))

    def may_contain(self, text: str) -> bool:
        """False only if ``redact(text)`` would change nothing: the rules' own cheap tests.

        Each test only asks whether some substring is there (a character, a marker, a short
        regex without look-arounds), so one that is False for a text is False for every part
        of it. That lets a caller test a whole JSON document (``json.dumps`` of metadata) at
        once and skip its strings, as long as the document holds no escapes (a ``\\``), which
        would make a string differ from its serialised form.
        """
        return len(text) >= _SHORTEST and any(gate(text) for gate in self._gates)

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with PII replaced, and how many items of each kind were replaced.

        The counts hold only kinds that fired. The result is a fixed point: redacting it again
        changes nothing and counts nothing.
        """
        counts: dict[str, int] = {}
        if len(text) < _SHORTEST:
            return text, counts
        for _ in range(_MAX_PASSES):
            rules = self._rules if may_hold_digit_pii(text) else self._digit_free_rules
            changed = False
            for kind, rule in rules:
                text, n = rule(text)
                if n:
                    counts[kind] = counts.get(kind, 0) + n
                    changed = True
            if not changed:
                break
        return text, counts
