"""The assertion registry: small pure functions, looked up by the ``type`` a suite names.

Built-ins are registered with the same ``@assertion("name")`` decorator a team uses for its own
checks, so there is one way to add a check and nothing a built-in can do that a user's cannot.
An assertion receives a ``Check`` (the output, its latency, the case, the spec's prepared value
and threshold) and returns an ``Outcome``: passed, failed, skipped or errored, always with a
reason a reviewer can read in a pull request.

``prepare`` turns a spec's ``value`` into what the function needs once, when the suite is loaded
(a regex compiled, a JSON Schema checked), so a bad value is a suite error naming the field and
not a failure on every case. ``batch`` assertions (embeddings, judges) receive every check of a
run at once, because they are only fast in batches.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from evalkit.gate.suite import Case

Status = Literal["pass", "fail", "skip", "error"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one assertion on one output. ``skip`` is never counted as a pass."""

    status: Status
    reason: str
    score: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def passed(reason: str, score: float | None = None) -> Outcome:
    return Outcome("pass", reason, score)


def failed(reason: str, score: float | None = None) -> Outcome:
    return Outcome("fail", reason, score)


def skipped(reason: str) -> Outcome:
    return Outcome("skip", reason)


def verdict(ok: bool, reason: str, score: float | None = None) -> Outcome:
    return Outcome("pass" if ok else "fail", reason, score)


@dataclass(frozen=True, slots=True)
class Check:
    """What an assertion sees: one output of one case, and the spec's value and threshold."""

    output: str
    case: Case
    value: Any = None
    threshold: float | None = None
    latency_ms: float | None = None
    #: after ``deepeval:`` or another family's colon: the metric's name
    arg: str | None = None
    #: run-wide inputs (``evaluate.RunOptions``: the judge model, the guard's classifier)
    options: Any = None


AssertFn = Callable[[Check], Outcome]
BatchFn = Callable[[Sequence[Check]], Sequence[Outcome]]


@dataclass(frozen=True)
class AssertionDef:
    name: str
    fn: Callable[..., Any]
    doc: str
    batch: bool = False
    needs_value: bool = False
    needs_reference: bool = False
    #: whether ``threshold`` means anything; its default when not given
    uses_threshold: bool = False
    default_threshold: float | None = None
    prepare: Callable[[Any], Any] | None = None
    #: a family (``deepeval``) takes the text after its colon (``deepeval:ExactMatchMetric``)
    family: bool = False
    #: checks a ``family`` argument at load time; raises ValueError
    prepare_arg: Callable[[str, Any], Any] | None = None


@dataclass(frozen=True)
class AssertSpec:
    """One assertion of one case, validated and with its value prepared."""

    type: str
    definition: AssertionDef = field(repr=False, compare=False)
    value: Any = None
    raw_value: Any = None
    threshold: float | None = None
    arg: str | None = None

    @property
    def needs_reference(self) -> bool:
        """Reference-based checks compare with ``value`` when one is given, else the case's
        ``reference``, which must then exist."""
        return self.definition.needs_reference and self.raw_value is None

    def describe(self) -> str:
        """``contains '30 days'``, ``semantic_similarity ≥ 0.8``: for reports."""
        text = self.type
        if self.raw_value is not None and not isinstance(self.raw_value, dict | list):
            shown = repr(self.raw_value)
            text += f" {shown if len(shown) <= 60 else shown[:57] + '…'}"
        if self.threshold is not None:
            text += f" (threshold {self.threshold:g})"
        return text


_REGISTRY: dict[str, AssertionDef] = {}
_BUILTINS_LOADED = False
#: Modules whose import registers the built-ins; each keeps heavy imports inside functions.
BUILTIN_MODULES = (
    "evalkit.gate.assertions.text",
    "evalkit.gate.assertions.structured",
    "evalkit.gate.assertions.semantic",
    "evalkit.gate.assertions.risk",
    "evalkit.gate.assertions.deepeval_metric",
)


def assertion(
    name: str,
    *,
    batch: bool = False,
    needs_value: bool = False,
    needs_reference: bool = False,
    uses_threshold: bool = False,
    default_threshold: float | None = None,
    prepare: Callable[[Any], Any] | None = None,
    family: bool = False,
    prepare_arg: Callable[[str, Any], Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the assertion ``name``. Its docstring is its documentation (required).

    >>> @assertion("no_pii")
    ... def no_pii(check: Check) -> Outcome:
    ...     '''Fails when the output contains an e-mail address.'''
    ...     return verdict("@" not in check.output, "no e-mail address")
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise TypeError(f"assertion {name!r} needs a docstring: it is its documentation")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.fn is not fn:
            origin = f"{existing.fn.__module__}.{existing.fn.__qualname__}"
            if origin != f"{fn.__module__}.{fn.__qualname__}":  # a module re-imported is fine
                raise ValueError(f"assertion {name!r} is already registered by {origin}")
        _REGISTRY[name] = AssertionDef(
            name=name,
            fn=fn,
            doc=doc,
            batch=batch,
            needs_value=needs_value,
            needs_reference=needs_reference,
            uses_threshold=uses_threshold,
            default_threshold=default_threshold,
            prepare=prepare,
            family=family,
            prepare_arg=prepare_arg,
        )
        return fn

    return register


def registered() -> dict[str, AssertionDef]:
    """Every registered assertion by name (built-ins included)."""
    _load_builtins()
    return dict(_REGISTRY)


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


class SpecError(ValueError):
    """A bad assertion in a suite; ``field`` is the key at fault (``type``, ``value``, ...)."""

    def __init__(self, message: str, field: str = "value") -> None:
        super().__init__(message)
        self.field = field


def lookup(kind: str) -> tuple[AssertionDef, str | None]:
    """The definition for a ``type``, and a family's argument. Raises ``SpecError``."""
    _load_builtins()
    if kind not in _REGISTRY and kind.replace("-", "_") in _REGISTRY:
        kind = kind.replace("-", "_")  # promptfoo spells them not-contains, starts-with
    if kind in _REGISTRY and not _REGISTRY[kind].family:
        return _REGISTRY[kind], None
    head, colon, arg = kind.partition(":")
    if colon and head in _REGISTRY and _REGISTRY[head].family:
        if not arg:
            raise SpecError(f"'{head}:' needs a name after the colon, e.g. {head}:Name", "type")
        return _REGISTRY[head], arg
    if "." in kind or colon:
        return _import_custom(kind), None
    known = ", ".join(sorted(n + (":<Name>" if d.family else "") for n, d in _REGISTRY.items()))
    hint = _closest(kind, list(_REGISTRY))
    raise SpecError(
        f"unknown assertion {kind!r}{hint}; known: {known}; or a dotted path to your own "
        "function (package.module.function)",
        "type",
    )


def _import_custom(path: str) -> AssertionDef:
    """``pkg.checks.no_pii`` or ``pkg.checks:no_pii``: a team's own assertion function."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except Exception as exc:
        raise SpecError(f"cannot import the assertion {path!r}: {exc}", "type") from None
    for definition in _REGISTRY.values():
        if definition.fn is fn:
            return definition
    if not callable(fn):
        raise SpecError(f"{path!r} is not a function", "type")
    doc = (fn.__doc__ or "").strip() or f"custom assertion {path}"
    return AssertionDef(name=path, fn=fn, doc=doc, uses_threshold=True)


def validate_spec(kind: str, value: Any, threshold: Any) -> AssertSpec:
    """A spec from a suite's ``{type, value, threshold}``; raises ``SpecError`` naming the key."""
    definition, arg = lookup(kind)
    if definition.needs_value and value is None:
        raise SpecError(f"assertion '{kind}' needs a 'value'")
    if threshold is not None:
        if not definition.uses_threshold:
            raise SpecError(f"assertion '{kind}' takes no threshold", "threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise SpecError(f"expected a number, got {threshold!r}", "threshold")
    prepared = value
    try:
        if definition.prepare_arg is not None and arg is not None:
            prepared = definition.prepare_arg(arg, value)
        elif definition.prepare is not None:
            prepared = definition.prepare(value)
    except SpecError:
        raise
    except (ValueError, TypeError) as exc:
        raise SpecError(f"assertion '{kind}': {exc}") from None
    return AssertSpec(
        type=kind,
        definition=definition,
        value=prepared,
        raw_value=value,
        threshold=float(threshold) if threshold is not None else definition.default_threshold,
        arg=arg,
    )


def as_outcome(result: Any, name: str) -> Outcome:
    """A custom function may return an ``Outcome``, a bool, or ``(bool, reason)``."""
    if isinstance(result, Outcome):
        return result
    if isinstance(result, bool):
        return verdict(result, f"{name} returned {result}")
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return verdict(result[0], str(result[1]))
    return Outcome("error", f"{name} returned {type(result).__name__}, not an Outcome or a bool")


def _closest(word: str, names: list[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, names, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""
