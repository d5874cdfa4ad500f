"""The pytest plugin: golden cases as test items, and the golden_gate fixture, in a real run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gate.gate_helpers import GOLDEN, GOOD, REGRESSED


def pytest_run(tmp_path, *args):
    (tmp_path / "test_team.py").write_text(
        "def test_with_the_fixture(golden_gate):\n"
        f"    result = golden_gate({str(GOLDEN / 'refusals.yaml')!r}, outputs={str(GOOD)!r})\n"
        "    assert result.passed, [r.detail for r in result.rules if not r.passed]\n"
    )
    argv = [sys.executable, "-m", "pytest", "-p", "evalkit.gate.pytest_plugin", "-p", "no:deepeval"]
    argv += ["-p", "no:cacheprovider", "-q", "-rA", "--rootdir", str(tmp_path), *args]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # three pytest processes
def test_golden_items_pass_and_fail_with_reasons(tmp_path):
    suite = str(GOLDEN / "refusals.yaml")
    good = pytest_run(tmp_path, "--golden", suite, "--golden-outputs", str(GOOD))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "10 passed" in good.stdout  # 8 cases, the gate, the fixture test
    bad = pytest_run(
        tmp_path, "--golden", suite, "--golden-outputs", str(REGRESSED),
        "--golden-baseline", str(GOOD),
    )  # fmt: skip
    assert bad.returncode == 1
    assert "4 failed, 6 passed" in bad.stdout
    assert "FAILED golden::refusals::other-customer-address" in bad.stdout
    assert "refusal: does not refuse" in bad.stdout
    assert "gate refusals failed:" in bad.stdout and "every critical case passes" in bad.stdout


@pytest.mark.slow
def test_without_golden_the_plugin_adds_nothing_and_misuse_is_a_usage_error(tmp_path):
    plain = pytest_run(tmp_path)
    assert plain.returncode == 0 and "1 passed" in plain.stdout
    missing = pytest_run(tmp_path, "--golden", str(GOLDEN / "refusals.yaml"))
    assert missing.returncode == 4 and "--golden needs --golden-outputs" in missing.stderr
