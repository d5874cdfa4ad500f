"""pytest plugin: golden suites as test items inside a team's own test run.

    pytest --golden golden_sets/support-answers.yaml --golden-outputs outputs.jsonl \
           [--golden-baseline baseline.jsonl]

adds one test per case (``golden::SUITE::CASE``: fails with the assertions' reasons, skips with
the reason when it could not be judged) and one per suite for the gate's rules
(``golden::SUITE::gate``: pass rate, tags, critical cases, regression against the baseline).
Each suite is judged once, at collection. Without ``--golden`` the plugin does nothing.

Inside a test, the ``golden_gate`` fixture runs a gate and returns its ``GateResult``:

    def test_candidate(golden_gate):
        result = golden_gate("golden_sets/refusals.yaml", outputs="out.jsonl")
        assert result.passed, [r.detail for r in result.rules if not r.passed]

Registered through the ``pytest11`` entry point, so installing evalkit is enough; also loadable
with ``-p evalkit.gate.pytest_plugin``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalkit.gate.evaluate import CaseResult
from evalkit.gate.policy import GateResult


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalkit-golden", "evalkit golden-set gates")
    group.addoption(
        "--golden",
        action="append",
        default=[],
        metavar="SUITE",
        help="Golden suite YAML (repeatable).",
    )
    group.addoption("--golden-outputs", metavar="FILE", help="The candidate's recorded outputs.")
    group.addoption("--golden-baseline", metavar="FILE", help="The baseline's recorded outputs.")


def run_gate_files(
    suites: list[str | Path], outputs: str | Path, baseline: str | Path | None = None
) -> list[GateResult]:
    from evalkit.gate.outputs import load_outputs
    from evalkit.gate.run import load_suites, run_gate

    candidate = load_outputs(outputs)
    base = load_outputs(baseline) if baseline is not None else None
    return run_gate(load_suites(suites), candidate, baseline=base)


class GoldenCaseItem(pytest.Item):
    """One golden case's verdict, judged at collection."""

    def __init__(self, *, result: CaseResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result
        for tag in result.case.tags:
            self.add_marker(pytest.mark.golden_tag(tag))

    def runtest(self) -> None:
        r = self.result
        if r.status == "skip":
            pytest.skip("; ".join(r.reasons()) or "not judged")
        if r.verdict is False:
            raise GoldenFailure("\n".join(r.reasons()))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, GoldenFailure):
            return f"{self.result.case.id}:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(self.name.split("::")[1]), 0, f"golden case {self.result.case.id}"


class GoldenGateItem(pytest.Item):
    """A suite's gate rules: fails when any rule fails, listing each with its numbers."""

    def __init__(self, *, gate: GateResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        broken = [f"{r.name}: {r.detail}" for r in self.gate.rules if not r.passed]
        if broken:
            raise GoldenFailure("\n".join(broken))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, GoldenFailure):
            return f"gate {self.gate.suite.name} failed:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.gate.suite.path, 0, f"golden gate {self.gate.suite.name}"


class GoldenFailure(AssertionError):
    """A golden case or gate that failed; its message is the reasons."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "golden_tag(name): a golden case's tag (from --golden)")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    suites = config.getoption("--golden")
    if not suites:
        return
    outputs = config.getoption("--golden-outputs")
    if not outputs:
        raise pytest.UsageError("--golden needs --golden-outputs FILE (the candidate's outputs)")
    from evalkit.errors import UsageError

    try:
        gates = run_gate_files(suites, outputs, config.getoption("--golden-baseline"))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    for gate in gates:
        for result in gate.results:
            node = f"golden::{gate.suite.name}::{result.case.id}"
            items.append(GoldenCaseItem.from_parent(session, name=node, nodeid=node, result=result))
        node = f"golden::{gate.suite.name}::gate"
        items.append(GoldenGateItem.from_parent(session, name=node, nodeid=node, gate=gate))


@pytest.fixture
def golden_gate() -> Callable[..., GateResult]:
    """``golden_gate(suite, outputs=FILE, baseline=None) -> GateResult`` for one suite."""

    def run(
        suite: str | Path, *, outputs: str | Path, baseline: str | Path | None = None
    ) -> GateResult:
        (result,) = run_gate_files([suite], outputs, baseline)
        return result

    return run
