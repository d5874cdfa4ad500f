"""Gate: golden-set regression suites that block a deploy when output quality drops.

The public surface adapters (CLI, pytest plugin, demo) use. A suite is loaded and validated
(``load_suite``), a candidate's outputs judged by the registry's assertions (``evaluate``), the
result decided against thresholds and a baseline (``run_gate``), reported (``report``) and
recorded in the store (``record_runs``).
"""

from evalkit.gate.demo import DemoGate, run_demo_gates
from evalkit.gate.evaluate import CaseResult, JudgeConfig, RunOptions, evaluate
from evalkit.gate.outputs import (
    CandidateOutput,
    OutputsError,
    OutputSet,
    load_outputs,
    save_outputs,
)
from evalkit.gate.policy import GateResult, Rule
from evalkit.gate.registry import (
    AssertSpec,
    Check,
    Outcome,
    assertion,
    failed,
    passed,
    registered,
    skipped,
    verdict,
)
from evalkit.gate.run import gate_suite, load_suites, record_runs, run_gate
from evalkit.gate.suite import Case, Suite, SuiteError, Thresholds, load_suite

__all__ = [
    "AssertSpec",
    "CandidateOutput",
    "Case",
    "CaseResult",
    "Check",
    "DemoGate",
    "GateResult",
    "JudgeConfig",
    "Outcome",
    "OutputSet",
    "OutputsError",
    "Rule",
    "RunOptions",
    "Suite",
    "SuiteError",
    "Thresholds",
    "assertion",
    "evaluate",
    "failed",
    "gate_suite",
    "load_outputs",
    "load_suite",
    "load_suites",
    "passed",
    "record_runs",
    "registered",
    "run_demo_gates",
    "run_gate",
    "save_outputs",
    "skipped",
    "verdict",
]
