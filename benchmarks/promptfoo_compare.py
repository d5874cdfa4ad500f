"""evalkit gate against promptfoo eval, end to end, on the same generated deterministic suite.

The suite and the recorded outputs are ``gate.build()``'s (1,000 cases, 4 assertions each, 973
pass). The promptfoo config carries the same cases: each test's ``vars.output`` is the recorded
output, replayed by promptfoo's ``echo`` provider under the prompt ``{{output}}`` (the same
replay promptfoo's own ``--assertions/--model-outputs`` mode sets up). Assertions map as
contains -> contains, not_contains -> not-contains, max_chars N -> javascript
``output.length <= N`` (promptfoo has no length assertion), and the ``(?i)`` regex -> the same
pattern with each letter spelled in both cases (JavaScript's RegExp has no inline flags and
promptfoo's ``regex`` takes none).

Both commands run as a CI job would: evalkit writes JUnit, JSON and Markdown reports, re-judges
the baseline and records the run in a fresh SQLite store (as ``gate.py`` does); promptfoo writes
JSON and JUnit reports and records the eval in its own SQLite database, in a temporary config
dir, with telemetry, update checks, sharing, cache and the debug log off. One untimed warm-up
run each, then ``--runs`` runs of each, alternately; wall seconds are ``time.perf_counter``
around ``subprocess.run``. Prints one JSON document on stdout.

    python benchmarks/promptfoo_compare.py --promptfoo DIR   # DIR: `npm install promptfoo` there
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate import EVALKIT, build
from gate import timed as time_process

THANKS = r"(?i)\b(thanks|thank you)\b"


def _both_cases(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in text)


def to_promptfoo(assertion: dict[str, Any]) -> dict[str, Any]:
    kind, value = assertion["type"], assertion.get("value")
    if kind == "contains":
        return {"type": "contains", "value": value}
    if kind == "not_contains":
        return {"type": "not-contains", "value": value}
    if kind == "max_chars":
        return {"type": "javascript", "value": f"output.length <= {int(value)}"}
    if kind == "regex" and value == THANKS:
        pattern = r"\b(" + _both_cases("thanks") + "|" + _both_cases("thank you") + r")\b"
        return {"type": "regex", "value": pattern}
    raise SystemExit(f"no promptfoo equivalent written for {assertion!r}")


def write_config(folder: Path, n: int) -> tuple[Path, Path, Path]:
    """gate.build()'s suite and outputs, and the equivalent promptfooconfig.yaml."""
    inline, _jsonl, out_path = build(folder, n, semantic=False)
    cases = yaml.safe_load(inline.read_text(encoding="utf-8"))["cases"]
    lines = out_path.read_text(encoding="utf-8").splitlines()
    outputs = {o["id"]: o["output"] for o in map(json.loads, lines)}
    tests = [
        {
            "description": c["id"],
            "vars": {"output": outputs[c["id"]]},
            "assert": [to_promptfoo(a) for a in c["assert"]],
        }
        for c in cases
    ]
    config = {"description": "bench", "prompts": ["{{output}}"], "providers": ["echo"]}
    config["tests"] = tests
    pf_config = folder / "promptfooconfig.yaml"
    pf_config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return inline, out_path, pf_config


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    seconds, cpu, done = time_process(argv, env)
    if done.returncode not in (0, 1, 100):  # 1: evalkit gate failed; 100: promptfoo's
        raise SystemExit(f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, cpu, done.returncode


def summary(runs: list[tuple[float, float, int]]) -> dict[str, Any]:
    return {
        "seconds": [round(s, 3) for s, _, _ in runs],
        "median_seconds": round(statistics.median(s for s, _, _ in runs), 3),
        "median_cpu_seconds": round(statistics.median(c for _, c, _ in runs), 3),
        "exit_code": runs[-1][2],
    }


def compare(promptfoo_dir: Path, n: int, runs: int) -> dict[str, Any]:
    promptfoo = promptfoo_dir / "node_modules" / ".bin" / "promptfoo"
    package = promptfoo_dir / "node_modules" / "promptfoo" / "package.json"
    version = json.loads(package.read_text(encoding="utf-8"))["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    with tempfile.TemporaryDirectory(prefix="evalkit-promptfoo-bench-") as tmp:
        folder = Path(tmp)
        suite, outputs, pf_config = write_config(folder, n)
        ek_env = {**os.environ, "EVALKIT_DATA_DIR": str(folder / "store"), "HF_HUB_OFFLINE": "1"}
        ek_env.pop("EVALKIT_DATABASE_URL", None)
        ek_env.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
        ek_argv = [str(EVALKIT), "gate", str(suite), "--outputs", str(outputs), "--quiet"]
        ek_argv += ["--junit", str(folder / "j.xml"), "--json", str(folder / "r.json")]
        ek_argv += ["--markdown", str(folder / "r.md"), "--baseline", str(outputs)]
        pf_env = {
            **os.environ,
            "PROMPTFOO_CONFIG_DIR": str(folder / "promptfoo-home"),
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_DISABLE_SHARING": "1",
            "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
            "PROMPTFOO_CACHE_ENABLED": "false",
            # Its debug log file crashes the process at exit on 1,000 tests ("write after end").
            "PROMPTFOO_DISABLE_DEBUG_LOG": "1",
            "PROMPTFOO_PASS_RATE_THRESHOLD": "90",  # the suite's pass_rate, as the gate has it
        }
        pf_argv = [str(promptfoo), "eval", "-c", str(pf_config), "--no-cache", "--no-share"]
        pf_argv += ["--no-table", "--no-progress-bar"]
        pf_argv += ["-o", str(folder / "pf.json"), str(folder / "pf.junit.xml")]
        timed(ek_argv, ek_env)  # warm-up: creates the store; page cache for both
        timed(pf_argv, pf_env)
        ek_runs, pf_runs = [], []
        for _ in range(runs):
            ek_runs.append(timed(ek_argv, ek_env))
            pf_runs.append(timed(pf_argv, pf_env))
        ek_report = json.loads((folder / "r.json").read_text(encoding="utf-8"))["suites"][0]
        pf_results = json.loads((folder / "pf.json").read_text(encoding="utf-8"))["results"]
        ek_failed = sorted(ek_report["failed"])
        pf_failed = sorted(
            r["testCase"]["description"] for r in pf_results["results"] if not r["success"]
        )
    evalkit, promptfoo_ = summary(ek_runs), summary(pf_runs)
    evalkit["passed"] = ek_report["overall"]["passed"]
    promptfoo_["passed"] = pf_results["stats"]["successes"]
    promptfoo_["errors"] = pf_results["stats"]["errors"]
    ratios = [e[0] / p[0] for e, p in zip(ek_runs, pf_runs, strict=True)]
    return {
        "cases": n,
        "assertions_per_case": 4,
        "promptfoo_version": version,
        "node_version": node.stdout.strip(),
        "replay": "promptfoo echo provider, prompt '{{output}}', output in each test's vars",
        "evalkit": evalkit,
        "promptfoo": promptfoo_,
        "same_failed_cases": ek_failed == pf_failed,
        "ratio_evalkit_over_promptfoo_median_seconds": round(
            evalkit["median_seconds"] / promptfoo_["median_seconds"], 4
        ),
        "ratio_median_of_pairs": round(statistics.median(ratios), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--promptfoo", type=Path, help="folder where promptfoo is npm-installed")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "benchmark": "promptfoo_compare",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.promptfoo is None:
        result["skipped"] = "no --promptfoo DIR given (npm install promptfoo in a scratch folder)"
    elif not (args.promptfoo / "node_modules" / ".bin" / "promptfoo").exists():
        result["skipped"] = f"no node_modules/.bin/promptfoo under {args.promptfoo}"
    else:
        result.update(compare(args.promptfoo, args.n, args.runs))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
