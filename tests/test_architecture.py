"""Dependencies point inward: stages never import a web framework, only store/ speaks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalkit"
ADAPTER_LIBS = {"fastapi", "starlette", "uvicorn", "typer", "rich", "streamlit", "click"}
STAGES = ["capture", "store", "sample", "review", "learn", "guard", "gate", "watch"]
#: The demo generator feeds every stage, so it may import any of them, but no adapter.
DEMO = "demo"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(*parts: str) -> list[Path]:
    return sorted(
        p for part in parts for p in (PACKAGE / part).rglob("*.py") if (PACKAGE / part).exists()
    )


@pytest.mark.parametrize("path", _modules(*STAGES, DEMO), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stages_do_not_import_adapters(path: Path):
    bad = {name for name in _imports(path) if name.split(".")[0] in ADAPTER_LIBS}
    bad |= {name for name in _imports(path) if name.startswith(("evalkit.api", "evalkit.cli"))}
    assert bad == set()


@pytest.mark.parametrize("path", _modules(*STAGES), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stages_do_not_import_the_demo(path: Path):
    # The demo reads the stages; a stage that reached back would tie product code to fake data.
    assert {n for n in _imports(path) if n.split(".")[:2] == ["evalkit", DEMO]} == set()


@pytest.mark.parametrize(
    "path",
    [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_only_the_store_imports_sqlalchemy(path: Path):
    assert {n for n in _imports(path) if n.split(".")[0] in ("sqlalchemy", "alembic")} == set()
