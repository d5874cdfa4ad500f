"""Untrusted text (prompts, retrieved context, LLM output) split into what the page may show.

Model output is untrusted: a response holding ``<script>`` or ``<img onerror=…>`` must never run,
and Markdown can carry tracking images, deceptive links and Streamlit's own directives
(``:red[…]``). So none of it is ever given to ``st.markdown`` or ``st.html``. Prose is shown with
``st.text`` (no Markdown or HTML parsing at all), fenced code blocks with ``st.code`` (a
highlighter that renders characters, never markup). Reviewers thus see exactly what the model
wrote, asterisks and angle brackets included, which is what they are judging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: An opening fence (``` or ~~~, three or more) with an optional info string; CommonMark's rule.
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
#: What a language name looks like; anything else is shown as plain monospace text.
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")


@dataclass(frozen=True)
class Segment:
    """A run of text to show one way: ``prose`` as plain text, ``code`` as a code block."""

    kind: Literal["prose", "code"]
    body: str
    #: For ``code``: a highlighter language (``python``), or None for plain monospace.
    language: str | None = None


def segments(text: str | None) -> list[Segment]:
    """Split ``text`` into prose and fenced code blocks, in order; never empty segments.

    An unclosed fence runs to the end of the text, as CommonMark reads it. Blank text gives [].
    """
    if not text or not text.strip():
        return []
    out: list[Segment] = []
    prose: list[str] = []
    code: list[str] = []
    fence: str | None = None
    language: str | None = None
    for line in text.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if match:
                _flush_prose(out, prose)
                fence = match.group("fence")
                info = match.group("info").strip().split(" ")[0]
                language = info.lower() if _LANGUAGE.match(info) else None
                continue
            prose.append(line)
        elif line.strip().startswith(fence[0] * len(fence)) and not line.strip(fence[0]).strip():
            out.append(Segment("code", "\n".join(code), language))
            code, fence, language = [], None, None
        else:
            code.append(line)
    if fence is not None:
        out.append(Segment("code", "\n".join(code), language))
    _flush_prose(out, prose)
    return out


def _flush_prose(out: list[Segment], lines: list[str]) -> None:
    body = "\n".join(lines).strip("\n")
    if body.strip():
        out.append(Segment("prose", body))
    lines.clear()
