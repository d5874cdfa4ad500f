"""``evalkit labelstudio export|import`` against the real Label Studio server (slow), and its
configuration errors (fast: no server needed)."""

from __future__ import annotations

import secrets

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.review import accounts, item_history, open_items
from evalkit.store import labels as label_store
from evalkit.store.database import Database
from tests.review.conftest import add_responses, queue_items
from tests.review.test_labelstudio_roundtrip import (  # the same server fixture
    _choices,
    free_port,
    label_studio,  # noqa: F401
)

runner = CliRunner()


def run(env, *args):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'evalkit.db'}"
    db = Database.open(url)
    yield url, db
    db.dispose()


def test_missing_settings_and_an_unreachable_server_are_clear_errors(store, tmp_path):
    url, _ = store
    env = {"EVALKIT_DATABASE_URL": url, "EVALKIT_DATA_DIR": str(tmp_path)}
    for command in ("export", "import"):
        missing = run(env, "labelstudio", command)
        assert missing.exit_code == 2 and "EVALKIT_LABELSTUDIO_URL" in missing.output
    env["EVALKIT_LABELSTUDIO_URL"] = "http://127.0.0.1:1"
    missing_key = run(env, "labelstudio", "export")
    assert missing_key.exit_code == 2 and "EVALKIT_LABELSTUDIO_API_KEY" in missing_key.output
    env["EVALKIT_LABELSTUDIO_URL"] = f"http://127.0.0.1:{free_port()}"
    env["EVALKIT_LABELSTUDIO_API_KEY"] = "not-a-token"
    down = run(env, "labelstudio", "import")
    assert down.exit_code == 2 and "cannot reach Label Studio" in down.output
    assert "not-a-token" not in down.output


@pytest.mark.slow
def test_export_annotate_import_and_import_again(store, tmp_path, label_studio):  # noqa: F811
    from label_studio_sdk import LabelStudio

    url, db = store
    r = add_responses(db, 4)
    (overlap,) = queue_items(db, [r[0]], k=2)
    single, bad = queue_items(db, r[1:3])
    queue_items(db, [r[3]], queue="other")
    title = f"evalkit cli {secrets.token_hex(3)}"
    env = {
        "EVALKIT_DATABASE_URL": url,
        "EVALKIT_DATA_DIR": str(tmp_path),
        "EVALKIT_LABELSTUDIO_URL": label_studio.url,
        "EVALKIT_LABELSTUDIO_API_KEY": label_studio.token,
    }
    exported = run(env, "labelstudio", "export", "--queue", "default", "--project", title)
    assert exported.exit_code == 0, exported.output
    assert "3 open items, 3 pushed, 0 already there" in exported.output
    again = run(env, "labelstudio", "export", "--queue", "default", "--project", title)
    assert "3 open items, 0 pushed, 3 already there" in again.output

    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    (project,) = [p for p in client.projects.list(title=title) if p.title == title]
    task = {int(t.data["evalkit_item_id"]): t.id for t in client.tasks.list(project=project.id)}
    assert set(task) == {overlap, single, bad}
    run_id = secrets.token_hex(3)
    email = {name: f"{name}-{run_id}@example.com" for name in ("ann", "bea")}
    users = {
        name: client.users.create(username=f"{name}-{run_id}", email=address, password="pw-" * 4)
        for name, address in email.items()
    }
    plain = [_choices("hallucination", "no"), _choices("tone", "polite"), _choices("harm", "none")]
    yes = [_choices("hallucination", "yes"), _choices("tone", "polite"), _choices("harm", "none")]
    client.annotations.create(id=task[overlap], result=yes, completed_by=users["ann"].id)
    mine = client.annotations.create(id=task[single], result=plain, completed_by=users["ann"].id)
    no_category = [*plain[:2], _choices("harm", "high")]
    client.annotations.create(id=task[bad], result=no_category, completed_by=users["bea"].id)

    env["EVALKIT_LABELSTUDIO_PROJECT"] = title  # the setting instead of --project
    imported = run(env, "labelstudio", "import")
    assert imported.exit_code == 1, imported.output
    assert "2 stored, 0 already there, 1 rejected" in imported.output
    assert f"(item {bad}):" in imported.output and "category" in imported.output
    labels = label_store.labels_of_items(db, [overlap, single], kinds=("review",))
    assert {(lb.item_id, lb.head, lb.value, lb.annotator) for lb in labels} >= {
        (overlap, "hallucination", "yes", email["ann"]),
        (single, "hallucination", "no", email["ann"]),
    }
    ann = accounts.get_reviewer(db, email["ann"])
    assert (ann.role, ann.has_password) == ("reviewer", False)
    assert [i.item_id for i in open_items(db, queue="default")] == [overlap, bad]

    # a second annotator on a k=1 item: refused (the item has its review), reported with why
    client.annotations.create(id=task[single], result=yes, completed_by=users["bea"].id)
    twice = run(env, "labelstudio", "import")
    assert twice.exit_code == 1
    assert "0 stored, 2 already there, 2 rejected" in twice.output
    assert f"(item {single}): item {single} has all its 1 reviews" in twice.output
    assert len(item_history(db, single)) == 1

    # an annotation edited in Label Studio comes back as a new version, counted once
    client.annotations.update(id=mine.id, result=yes)
    edited = run(env, "labelstudio", "import")
    assert "1 stored, 1 already there, 2 rejected" in edited.output
    assert [v["version"] for v in item_history(db, single)] == [1, 2]
    current = label_store.labels_of_items(db, [single], kinds=("review",))
    assert {(lb.head, lb.value) for lb in current} >= {("hallucination", "yes")}
