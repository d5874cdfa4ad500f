"""What ``from evalkit import Recorder`` and ``evalkit --help`` import: nothing heavy.

A service pays the SDK's import at every start and a user pays the CLI's at every command, so
the store (SQLAlchemy, Alembic), the ingest pipeline, pandas, pyarrow, numpy and the ML stack
are imported where they are used. Timers on a shared machine are noise, so each check runs a
fresh interpreter and inspects ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "evalkit" / "cli"

#: Never needed to record, to show help, or to parse options.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pandas",
    "pyarrow",
    "numpy",
    "scipy",
    "sklearn",
    "torch",
    "sentence_transformers",
    "transformers",
    "streamlit",
    "fastapi",
    "starlette",
    "uvicorn",
    "deepeval",
    "label_studio_sdk",
    "evalkit.store",
    "evalkit.capture.ingest",
    "evalkit.capture.readers",
    "evalkit.capture.prepare",
)
#: The settings (pydantic-settings) are needed once a command runs or a Recorder is made.
SETTINGS = ("pydantic", "pydantic_settings", "evalkit.settings")


def _loaded_after(code: str) -> list[str]:
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _matching(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(
        {name for m in modules for name in names if m == name or m.startswith(name + ".")}
    )


def test_importing_the_sdk_imports_nothing_heavy():
    loaded = _loaded_after("from evalkit import Recorder\nRecorder")
    assert _matching(loaded, HEAVY + SETTINGS) == []


def test_the_store_is_loaded_for_writing(tmp_path):
    # The other side of the tests around it: the check sees a heavy module once it is loaded.
    # (A Recorder starts importing the store on a thread of its own when it is made, so that a
    # flush at interpreter exit does not begin with seconds of imports.)
    loaded = _loaded_after(
        f"""
        from evalkit import Recorder
        recorder = Recorder(database_url="sqlite:///{tmp_path / "x.db"}")
        recorder.record(response="hello")
        assert recorder.flush(timeout=60)
        """
    )
    assert {"sqlalchemy", "evalkit.store", "evalkit.capture.ingest"} <= set(
        _matching(loaded, HEAVY)
    )


def test_evalkit_help_and_every_command_module_import_nothing_heavy():
    modules = sorted(p.stem for p in CLI.glob("*.py") if p.stem != "__init__")
    assert {"ingest", "demo", "serve", "store_admin"} <= set(modules)
    loaded = _loaded_after(
        f"""
        import importlib
        for name in {modules!r}:
            importlib.import_module("evalkit.cli." + name)
        from evalkit.cli import app
        try:
            app(["--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    assert _matching(loaded, HEAVY + SETTINGS) == [], (
        "a command module imports these at its top; import them inside the command function"
    )
