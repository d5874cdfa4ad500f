"""The label form as data: which keys choose what, what is still missing, the submission.

Everything here is pure (no Streamlit, no store), so the label page only lays out what these
functions return, and the rules (every head answered, harm's category unless harm is none) are
tested without a browser. The schema (``evalkit.review.schema``) is the single source: a head or
choice added there appears on the page with its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.review.schema import GENERAL, HEADS, Choice, Head, Submission, parse_submission

#: Submit and skip. Enter and Escape are free in the schema (whose keys are letters and digits),
#: and Streamlit reserves C and R.
SUBMIT_KEY = "Enter"
SKIP_KEY = "Escape"
#: Keys Streamlit refuses as shortcuts, even with modifiers.
RESERVED_KEYS = frozenset({"c", "r"})


@dataclass(frozen=True)
class ChoiceButton:
    """One button of the form: pressing ``key`` sets ``target`` (``head`` or ``head.field``)."""

    target: str
    value: str
    label: str
    key: str
    guideline: str
    selected: bool


@dataclass(frozen=True)
class HeadForm:
    """A head as the page lays it out: question, guideline, its buttons and extra buttons."""

    name: str
    label: str
    guideline: str
    choices: tuple[ChoiceButton, ...]
    #: Buttons of the head's choice and flag fields (harm's category, tone's off-brand).
    extras: tuple[tuple[str, tuple[ChoiceButton, ...]], ...]
    #: The head's free-text fields: (name, label, guideline).
    texts: tuple[tuple[str, str, str], ...]


def _button(target: str, choice: Choice, chosen: Any) -> ChoiceButton:
    return ChoiceButton(
        target,
        choice.value,
        choice.label,
        choice.key.upper(),
        choice.guideline,
        chosen == choice.value,
    )


def head_forms(choices: Mapping[str, Any], heads: tuple[Head, ...] = HEADS) -> list[HeadForm]:
    """The form for ``heads`` with the current ``choices`` (``head`` / ``head.field`` → value)."""
    out = []
    for h in heads:
        extras = []
        texts = []
        for f in h.fields:
            target = f"{h.name}.{f.name}"
            if f.kind == "choice":
                extras.append(
                    (f.label, tuple(_button(target, c, choices.get(target)) for c in f.choices))
                )
            elif f.kind == "flag" and f.key:
                flag = Choice("true", f.label, f.key, f.guideline)
                chosen = "true" if choices.get(target) else None
                extras.append((f.label, (_button(target, flag, chosen),)))
            elif f.kind in ("text", "span"):
                texts.append((target, f.label, f.guideline))
        out.append(
            HeadForm(
                h.name,
                h.label,
                h.guideline,
                tuple(_button(h.name, c, choices.get(h.name)) for c in h.choices),
                tuple(extras),
                tuple(texts),
            )
        )
    return out


def press(choices: Mapping[str, Any], target: str, value: str) -> dict[str, Any]:
    """The choices after pressing the button for ``target=value``.

    Pressing the selected answer again clears it (a mistaken key is undone by the same key); a
    flag toggles. Choosing harm ``none`` drops a category chosen before, which would contradict it.
    """
    out = dict(choices)
    if value == "true" and target.count(".") == 1 and _is_flag(target):
        out[target] = not out.get(target, False)
        return out
    if out.get(target) == value:
        del out[target]
    else:
        out[target] = value
    for h in HEADS:
        for f in h.fields:
            if (
                target == h.name
                and f.required_unless is not None
                and out.get(h.name) in f.required_unless
            ):
                out.pop(f"{h.name}.{f.name}", None)
    return out


def _is_flag(target: str) -> bool:
    head_name, field_name = target.split(".")
    return any(
        h.name == head_name and f.name == field_name and f.kind == "flag"
        for h in HEADS
        for f in h.fields
    )


def missing(choices: Mapping[str, Any], heads: tuple[Head, ...] = HEADS) -> list[str]:
    """What must still be chosen before submit, as the page says it (``Harm: category``)."""
    out = []
    for h in heads:
        value = choices.get(h.name)
        if value is None:
            out.append(h.label)
            continue
        for f in h.fields:
            needed = f.required_unless is not None and value not in f.required_unless
            if f.kind == "choice" and needed and not choices.get(f"{h.name}.{f.name}"):
                out.append(f"{h.label}: {f.label.lower()}")
    return out


def submission(
    choices: Mapping[str, Any],
    texts: Mapping[str, str],
    *,
    seconds: float,
    heads: tuple[Head, ...] = HEADS,
) -> Submission:
    """The validated submission from the buttons pressed and the text boxes filled in.

    ``texts`` holds ``head.field`` and general field names (``correction``, ``note``) → text;
    blank ones are left out. Raises ``UsageError`` (from the schema) if something is invalid.
    """
    labels: dict[str, dict[str, Any]] = {}
    for h in heads:
        if h.name not in choices:
            continue
        answer: dict[str, Any] = {"value": choices[h.name]}
        for f in h.fields:
            target = f"{h.name}.{f.name}"
            if f.kind in ("choice", "flag") and choices.get(target) is not None:
                answer[f.name] = choices[target]
            elif f.kind in ("text", "span") and (texts.get(target) or "").strip():
                answer[f.name] = texts[target].strip()
        labels[h.name] = answer
    general = {
        f.name: texts[f.name].strip()
        for f in GENERAL
        if f.kind == "text" and (texts.get(f.name) or "").strip()
    }
    return parse_submission(labels, seconds=round(max(0.0, seconds), 1), **general)


def general_texts() -> list[tuple[str, str, str]]:
    """The submission's free-text fields: (name, label, guideline)."""
    return [(f.name, f.label, f.guideline) for f in GENERAL if f.kind == "text"]


def schema_keys(heads: tuple[Head, ...] = HEADS) -> list[str]:
    """Every key the form binds, upper-cased as Streamlit shows them, submit and skip included."""
    keys = [b.key for hf in head_forms({}, heads) for b in hf.choices]
    keys += [b.key for hf in head_forms({}, heads) for _, extra in hf.extras for b in extra]
    return [*keys, SUBMIT_KEY, SKIP_KEY]
