"""Golden-set suites: the YAML a team writes, read into frozen cases the gate can judge.

A suite is a YAML file with its cases inline, or a YAML header whose ``cases_file:`` names a
JSONL file (one case per line) for sets too large to review as YAML. Assertions keep promptfoo's
``assert: [{type, value, threshold}]`` shape so suites port easily. Everything is validated up
front, and every problem is reported at once, each naming the file, the case and the field, so a
suite author fixes a broken suite in one pass rather than one error per CI run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from evalkit.errors import UsageError
from evalkit.gate.registry import AssertSpec, validate_spec

#: Keys a case may have; anything else is a typo worth reporting (``refrence``).
CASE_KEYS = frozenset(
    {
        "id",
        "prompt",
        "messages",
        "context",
        "reference",
        "tags",
        "critical",
        "assert",
        "description",
        "metadata",
    }
)
SUITE_KEYS = frozenset(
    {"name", "owner", "description", "thresholds", "defaults", "cases", "cases_file", "plugins"}
)
THRESHOLD_KEYS = frozenset({"pass_rate", "tags", "max_drop", "alpha", "repeat_pass_fraction"})
ASSERT_KEYS = frozenset({"type", "value", "threshold", "name"})


class SuiteError(UsageError):
    """A suite that cannot be run: one problem per line, each naming file, case and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Thresholds:
    """What a candidate must reach. Without a ``pass_rate`` every case must pass: a suite that
    forgot its thresholds should not wave failures through."""

    pass_rate: float | None = 1.0
    tags: Mapping[str, float] = field(default_factory=dict)
    #: largest allowed fall in pass rate against the baseline (0.02 = two points)
    max_drop: float | None = None
    #: significance level of the paired (McNemar) test against the baseline
    alpha: float = 0.05
    #: with repeats: share of a case's repeats that must pass for the case to pass
    repeat_pass_fraction: float = 0.5


@dataclass(frozen=True)
class Case:
    """One golden case: an input, what is known about the right answer, and its checks."""

    id: str
    prompt: str | None = None
    messages: tuple[Mapping[str, str], ...] | None = None
    context: str | None = None
    reference: str | None = None
    tags: tuple[str, ...] = ()
    critical: bool = False
    asserts: tuple[AssertSpec, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_text(self) -> str:
        """The prompt, or the chat's last user turn: what judges and reports show as input."""
        if self.prompt is not None:
            return self.prompt
        for message in reversed(self.messages or ()):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    cases: tuple[Case, ...]
    owner: str | None = None
    description: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    defaults: tuple[AssertSpec, ...] = ()
    plugins: tuple[str, ...] = ()


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; raises ``SuiteError`` listing every problem found."""
    import yaml

    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError([f"{where}: no such suite file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([f"{where}: cannot read the suite: {exc}"]) from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError([f"{where}:{at}: not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise SuiteError([f"{where}: a suite is a mapping with 'name' and 'cases'"])
    return _build(data, path)


def _build(data: dict[str, Any], path: Path) -> Suite:
    where = str(path)
    problems: list[str] = []
    for key in sorted(set(data) - SUITE_KEYS):
        problems.append(f"{where}: field '{key}': unknown suite field; known: {_known(SUITE_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: field 'name': required, a non-empty text")
        name = path.stem
    plugins = _text_list(data.get("plugins"), f"{where}: field 'plugins'", problems)
    _import_plugins(plugins, where, problems)
    thresholds = _thresholds(data.get("thresholds"), where, problems)
    defaults_raw = data.get("defaults") or {}
    defaults: tuple[AssertSpec, ...] = ()
    if not isinstance(defaults_raw, dict) or set(defaults_raw) - {"assert"}:
        problems.append(f"{where}: field 'defaults': only 'defaults: {{assert: [...]}}' is known")
    else:
        defaults = _asserts(
            defaults_raw.get("assert"), f"{where}: field 'defaults.assert", problems
        )

    raw_cases: list[tuple[str, Any]] = []
    if ("cases" in data) == ("cases_file" in data):
        problems.append(f"{where}: give either 'cases' (inline) or 'cases_file' (JSONL), not both")
    elif "cases" in data:
        if not isinstance(data["cases"], list):
            problems.append(f"{where}: field 'cases': expected a list of cases")
        else:
            raw_cases = [(f"{where}: case {i + 1}", c) for i, c in enumerate(data["cases"])]
    else:
        raw_cases = _read_cases_file(path, data["cases_file"], problems)

    cases: list[Case] = []
    seen: dict[str, str] = {}
    for label, raw in raw_cases:
        case = _case(raw, label, defaults, problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(f"{label} (id {case.id}): field 'id': duplicate of {seen[case.id]}")
            continue
        seen[case.id] = label
        cases.append(case)
    if not raw_cases and not problems:
        problems.append(f"{where}: field 'cases': the suite has no cases")
    for tag in thresholds.tags:
        if cases and not any(tag in c.tags for c in cases):
            problems.append(f"{where}: field 'thresholds.tags.{tag}': no case has this tag")
    if problems:
        raise SuiteError(problems)
    return Suite(
        name=name.strip(),
        path=path,
        cases=tuple(cases),
        owner=_opt_text(data.get("owner"), f"{where}: field 'owner'", problems),
        description=_opt_text(data.get("description"), f"{where}: field 'description'", problems),
        thresholds=thresholds,
        defaults=defaults,
        plugins=tuple(plugins),
    )


def _read_cases_file(path: Path, name: Any, problems: list[str]) -> list[tuple[str, Any]]:
    where = str(path)
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: field 'cases_file': expected a file name")
        return []
    cases_path = (path.parent / name).resolve()
    try:
        lines = cases_path.read_bytes().splitlines()
    except OSError as exc:
        problems.append(f"{where}: field 'cases_file': cannot read {cases_path}: {exc.strerror}")
        return []
    out: list[tuple[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label = f"{cases_path.name}:line {number}"
        try:
            out.append((label, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            problems.append(f"{label}: not valid JSON: {exc}")
    return out


def _case(
    raw: Any, label: str, defaults: tuple[AssertSpec, ...], problems: list[str]
) -> Case | None:
    if not isinstance(raw, dict):
        problems.append(f"{label}: expected a mapping with 'id' and 'prompt' or 'messages'")
        return None
    case_id = raw.get("id")
    if isinstance(case_id, int) and not isinstance(case_id, bool):
        case_id = str(case_id)
    if not isinstance(case_id, str) or not case_id.strip():
        problems.append(f"{label}: field 'id': required, a non-empty text")
        return None
    at = f"{label} (id {case_id})"
    before = len(problems)
    for key in sorted(set(raw) - CASE_KEYS):
        problems.append(f"{at}: field '{key}': unknown case field; known: {_known(CASE_KEYS)}")
    prompt = _opt_text(raw.get("prompt"), f"{at}: field 'prompt'", problems)
    messages = _messages(raw.get("messages"), at, problems)
    if (prompt is None) == (messages is None):
        problems.append(f"{at}: field 'prompt': give a 'prompt' or chat 'messages' (one of them)")
    tags = _text_list(raw.get("tags"), f"{at}: field 'tags'", problems)
    critical = raw.get("critical", False)
    if not isinstance(critical, bool):
        problems.append(f"{at}: field 'critical': expected true or false, got {critical!r}")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        problems.append(f"{at}: field 'metadata': expected a mapping")
    case = Case(
        id=case_id,
        prompt=prompt,
        messages=messages,
        context=_opt_text(raw.get("context"), f"{at}: field 'context'", problems),
        reference=_opt_text(raw.get("reference"), f"{at}: field 'reference'", problems),
        tags=tuple(tags),
        critical=critical is True,
        asserts=defaults + _asserts(raw.get("assert"), f"{at}: field 'assert", problems),
        description=_opt_text(raw.get("description"), f"{at}: field 'description'", problems),
        metadata=metadata if isinstance(metadata, dict) else {},
    )
    if not case.asserts and len(problems) == before:
        problems.append(f"{at}: field 'assert': the case has no assertion (and no defaults)")
    for spec in case.asserts:
        if spec.needs_reference and case.reference is None:
            problems.append(f"{at}: field 'reference': required by assertion '{spec.type}'")
    return case if len(problems) == before else None


def _asserts(raw: Any, at: str, problems: list[str]) -> tuple[AssertSpec, ...]:
    """``at`` ends in an open quote (``field 'assert``) so items read ``field 'assert[2].type'``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{at}': expected a list of {{type, value, threshold}}")
        return ()
    specs = []
    for i, item in enumerate(raw):
        here = f"{at}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{here}': expected a mapping {{type, value, threshold}}")
            continue
        for key in sorted(set(item) - ASSERT_KEYS):
            problems.append(f"{here}.{key}': unknown; an assertion has {_known(ASSERT_KEYS)}")
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            problems.append(f"{here}.type': required, the assertion's name")
            continue
        try:
            specs.append(validate_spec(kind, item.get("value"), item.get("threshold")))
        except ValueError as exc:
            problems.append(f"{here}.{getattr(exc, 'field', 'value')}': {exc}")
    return tuple(specs)


def _thresholds(raw: Any, where: str, problems: list[str]) -> Thresholds:
    if raw is None:
        return Thresholds()
    if not isinstance(raw, dict):
        problems.append(f"{where}: field 'thresholds': expected a mapping")
        return Thresholds()
    for key in sorted(set(raw) - THRESHOLD_KEYS):
        problems.append(
            f"{where}: field 'thresholds.{key}': unknown; known: {_known(THRESHOLD_KEYS)}"
        )
    values: dict[str, Any] = {}
    for key in ("pass_rate", "max_drop", "alpha", "repeat_pass_fraction"):
        if raw.get(key) is not None:
            values[key] = _fraction(raw[key], f"{where}: field 'thresholds.{key}'", problems)
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict):
        problems.append(f"{where}: field 'thresholds.tags': expected {{tag: pass rate}}")
        tags = {}
    values["tags"] = {
        str(tag): _fraction(v, f"{where}: field 'thresholds.tags.{tag}'", problems)
        for tag, v in tags.items()
    }
    return Thresholds(**values)


def _fraction(value: Any, at: str, problems: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(f"{at}: expected a number from 0 to 1, got {value!r}")
        return 0.0
    return float(value)


def _messages(raw: Any, at: str, problems: list[str]) -> tuple[Mapping[str, str], ...] | None:
    if raw is None:
        return None
    ok = isinstance(raw, list) and raw
    if ok:
        for m in raw:
            if not (
                isinstance(m, dict)
                and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)
            ):
                ok = False
    if not ok:
        problems.append(f"{at}: field 'messages': expected a list of {{role, content}}")
        return None
    return tuple({"role": m["role"], "content": m["content"]} for m in raw)


def _opt_text(value: Any, at: str, problems: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    problems.append(f"{at}: expected text, got {type(value).__name__}")
    return None


def _text_list(value: Any, at: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{at}: expected a list of names")
        return []
    return list(value)


def _import_plugins(modules: list[str], where: str, problems: list[str]) -> None:
    """Import the modules a suite names so their ``@assertion`` functions register."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            problems.append(f"{where}: field 'plugins': cannot import {name!r}: {exc}")


def _known(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))
