"""The review stage's commands: exit codes, the token on its last line, JSON output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.review import accounts
from evalkit.store.database import Database
from tests.review.conftest import add_responses

runner = CliRunner()


@pytest.fixture
def env(tmp_path, store_url):
    db = Database.open(store_url)
    add_responses(db, 40)
    db.dispose()
    return {"EVALKIT_DATABASE_URL": store_url, "EVALKIT_DATA_DIR": str(tmp_path / "data")}


def run(env, *args, input=None):
    return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def test_sample_status_and_bad_input(env):
    done = run(env, "sample", "--strategy", "stratified", "--n", "8", "--by", "model_id", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert (report["added"], report["population"]) == (8, 40)
    assert report["strata"] == {"model_id=atlas-xl": [20, 4], "model_id=swift-mini": [20, 4]}
    status = json.loads(run(env, "queue", "status", "--json").stdout)
    assert status["pending"] == 8
    for args, message in (
        (("--strategy", "random", "--n", "99"), "above the population of 32"),
        (("--strategy", "risk", "--n", "3"), "evalkit train"),
        (("--strategy", "random", "--n", "3", "--since", "yesterday-ish"), "--since expects"),
        (("--n", "3"), "give --strategy and --n"),
    ):
        bad = run(env, "sample", *args)
        assert bad.exit_code == 2 and message in bad.output, bad.output
    assert json.loads(run(env, "queue", "status", "--json").stdout)["pending"] == 8


def test_reviewer_accounts(env, store_url):
    assert (
        run(env, "reviewers", "add", "ann", "--role", "adjudicator", "--tenants", "acme").exit_code
        == 0
    )
    dup = run(env, "reviewers", "add", "ann")
    assert dup.exit_code == 2 and "exists already" in dup.output
    token = run(env, "reviewers", "token", "ann")
    assert token.exit_code == 0
    last = token.stdout.strip().splitlines()[-1]
    assert last.startswith("evk_") and " " not in last
    assert (
        run(env, "reviewers", "password", "ann", "--stdin", input="long enough pw\n").exit_code == 0
    )
    db = Database.open(store_url)
    assert accounts.reviewer_for_token(db, last).username == "ann"  # type: ignore[union-attr]
    assert accounts.verify_login(db, "ann", "long enough pw") is not None
    db.dispose()
    people = json.loads(run(env, "reviewers", "list", "--json").stdout)
    assert [(p["username"], p["role"], p["tenants"], p["has_password"]) for p in people] == [
        ("ann", "adjudicator", ["acme"], True)
    ]
    missing = run(env, "reviewers", "token", "zed")
    assert missing.exit_code == 1 and "no reviewer named 'zed'" in missing.output
    # Widen (or narrow) an account's tenants, change its role, deactivate it.
    widened = run(env, "reviewers", "set", "ann", "--tenants", "globex,acme", "--role", "admin")
    assert widened.exit_code == 0 and "ann: admin, acme, globex, active" in widened.output
    everyone = run(env, "reviewers", "set", "ann", "--all-tenants", "--inactive")
    assert everyone.exit_code == 0 and "all tenants, inactive" in everyone.output
    (ann,) = json.loads(run(env, "reviewers", "list", "--json").stdout)
    assert (ann["role"], ann["tenants"], ann["active"]) == ("admin", None, False)
    for args, message in (
        (("ann",), "nothing to change"),
        (("ann", "--tenants", "a", "--all-tenants"), "not both"),
        (("ann", "--role", "boss"), "role 'boss'"),
        (("ann", "--tenants", " , "), "name at least one tenant"),
    ):
        bad = run(env, "reviewers", "set", *args)
        assert bad.exit_code == 2 and message in bad.output, bad.output
    assert run(env, "reviewers", "set", "zed", "--inactive").exit_code == 1
    assert "alpha" in run(env, "agreement").stdout


def test_add_gold(env, tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"response_id": "r-0001", "labels": {"hallucination": "yes"}}\n'
        '{"response_id": "nope", "labels": {"harm": "none"}}\n'
    )
    done = run(env, "queue", "add-gold", str(path))
    assert done.exit_code == 1 and "1 gold item(s) added" in done.stdout
    assert "1 unknown response id(s)" in done.stdout
    assert json.loads(run(env, "queue", "status", "--json").stdout)["gold"] == 1
    path.write_text('{"response_id": "r-0002", "labels": {"hallucination": "maybe"}}\n')
    bad = run(env, "queue", "add-gold", str(path))
    assert bad.exit_code == 2 and "hallucination cannot be 'maybe'" in bad.output


def test_queue_disputed_lists_the_items_waiting_for_an_adjudicator(env, store_url):
    from datetime import timedelta

    from evalkit.review import claim, parse_submission, submit
    from tests.review.conftest import T0, queue_items

    assert run(env, "queue", "disputed").stdout.strip() == "no disputed items"
    db = Database.open(store_url)
    (item,) = queue_items(db, ["r-0003"], k=2, queue="audit")
    now = T0 + timedelta(days=1)
    for name, value in (("ann", "yes"), ("bob", "no")):
        who = accounts.add_reviewer(db, name)
        claimed = claim(db, who, now=now)
        assert claimed is not None and claimed.item_id == item
        submit(db, who, item, parse_submission({"hallucination": value}), now=now)
    db.dispose()
    out = run(env, "queue", "disputed").stdout
    assert "1 disputed item(s)" in out and f"item {item} (audit) response r-0003" in out
