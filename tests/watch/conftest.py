"""A labelled demo store shared by the watch tests (built once: ingest and sampling take a few
seconds), and the reviewer app's browser fixtures, reused for the Quality page and the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from evalkit.settings import Settings
from evalkit.store.database import Database
from tests.reviewer_app.conftest import browser, page, serve_app  # noqa: F401 (fixtures)
from tests.watch.demo_store import build


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Settings, Any]]:
    tmp = tmp_path_factory.mktemp("watch")
    settings = Settings(data_dir=tmp / "data", _env_file=None)  # type: ignore[call-arg]
    db = Database.open(settings.resolved_database_url)
    traffic = build(db, settings, tmp / "demo")
    yield db, settings, traffic
    db.dispose()
