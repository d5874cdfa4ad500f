"""Finding credentials (API keys, tokens, passwords) in text, so they are never stored.

Credentials differ from the personal data in ``patterns``: their shape says little
(any long word could be a key), so they are found by what surrounds or starts them. Three
forms are recognised: the formats vendors issue keys in (``sk-…``, ``ghp_…``, ``AKIA…``, JWTs),
``Bearer <token>``, and a value after a key name (``api_key=…``, ``"password": "…"``), where
the name stays and only the value goes. ``Redactor`` runs this rule first, because keys
contain digits and ``@`` that the other rules would otherwise take apart.

Each form is scanned only when its test in ``gates`` says it may be there; those are
the same tests ``Redactor.may_contain`` asks, so the two cannot disagree.
"""

from __future__ import annotations

import re

from evalkit.capture.redact.gates import may_have_bearer, may_have_key_value, may_have_vendor_key
from evalkit.capture.redact.patterns import REPLACEMENTS, has_digit, sub

#: Any token of ``REPLACEMENTS``, as it looks in text already redacted.
_TOKEN = r"\[(?:EMAIL|PHONE|CARD|IP|SECRET)\]"

# Vendor key formats, matched case-sensitively as the vendors issue them. A new format needs its
# marker in ``gates._MARKERS_AROUND`` too, or the gate will skip it.
_SECRET_TOKEN = re.compile(
    r"""
    (?<![\w-])
    (?:
        sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}      # OpenAI sk-, sk-proj-; Anthropic sk-ant-
      | [srp]k_(?:live|test)_[A-Za-z0-9]{10,}          # Stripe
      | A(?:KI|SI)A[0-9A-Z]{16}(?![0-9A-Za-z])         # AWS access key id
      | gh[pousr]_[A-Za-z0-9]{20,}                     # GitHub tokens
      | github_pat_[A-Za-z0-9_]{20,}
      | xox[abprs]-[A-Za-z0-9-]{10,}                   # Slack
      | AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])         # Google API key
      | eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+   # JWT
    )
    """,
    re.VERBOSE,
)

# "Bearer <token>": the token needs a digit or 24+ characters, so prose such as
# "Bearer authentication" or a placeholder like "Bearer YOUR_TOKEN" is left alone.
_BEARER = re.compile(r"(?<![\w-])(?P<head>(?i:bearer)[ \t]+)(?P<tok>[A-Za-z0-9._~+/-]{8,}=*)")

# key=value / key: value / "key": "value". The key name (any prefix, e.g. OPENAI_API_KEY,
# db_password, csrf_token) stays; only the value goes. A value that already is a token is
# skipped so a second pass neither changes nor counts it. Spelling the first letter as a plain
# class lets the engine skip ahead to candidates: a case-insensitive alternation alone is
# tried at every position and costs six times as much. A new key word needs its ending in
# ``gates._KEY_ENDS`` too.
_KEY_VALUE = re.compile(
    r"""
    (?P<head>
        [AaPpSsTt]                      # first letter of a key word, then the rest of it
        (?:(?<=[Aa])(?i:pi[_-]?key|ccess[_-]?key)
          |(?<=[Pp])(?i:rivate[_-]?key|ass(?:word|wd)|wd)
          |(?<=[Ss])(?i:ecret(?:[_-]?key)?)
          |(?<=[Tt])(?i:oken))
        ["']?[ \t]*[:=][ \t]*
    )
    (?:
        "(?!TOKEN")(?P<dq>[^"\n]+)"
      | '(?!TOKEN')(?P<sq>[^'\n]+)'
      | (?P<bare>[^\s"',;&()\[\]{}<>]+)
    )
    """.replace("TOKEN", _TOKEN),
    re.VERBOSE,
)


def redact_secrets(text: str) -> tuple[str, int]:
    """Replace every credential with ``[SECRET]``; return the text and how many were."""
    total = 0
    if may_have_vendor_key(text):
        text, n = _SECRET_TOKEN.subn(REPLACEMENTS["secret"], text)
        total += n
    if may_have_bearer(text):
        text, n = sub(_BEARER, _bearer, text)
        total += n
    if may_have_key_value(text):
        text, n = sub(_KEY_VALUE, _key_value, text)
        total += n
    return text, total


def _bearer(m: re.Match[str]) -> str | None:
    token = m["tok"]
    if len(token) >= 24 or has_digit(token):
        return m["head"] + REPLACEMENTS["secret"]
    return None


def _key_value(m: re.Match[str]) -> str | None:
    secret = REPLACEMENTS["secret"]
    if m["dq"] is not None:
        return f'{m["head"]}"{secret}"'
    if m["sq"] is not None:
        return f"{m['head']}'{secret}'"
    if m["head"].rstrip().endswith(":") and not _looks_secret(m["bare"]):
        # "your password: open Settings…" is prose; "password: hunter2" is a credential.
        return None
    return m["head"] + secret


def _looks_secret(word: str) -> bool:
    """A bare word after ``key:``: a credential has a digit or symbol, or is long."""
    return len(word) >= 16 or not word.isalpha()
