"""``evalkit labelstudio export|import``: queue items labelled in Label Studio, labels back.

Thin: ``export`` is ``ensure_project`` → ``review.open_items`` → ``task_for`` → ``push_tasks``;
``import`` is ``pull_annotations`` → ``review.submit_external`` per annotation. The server and
its key come from ``EVALKIT_LABELSTUDIO_URL`` / ``EVALKIT_LABELSTUDIO_API_KEY`` (or
``--url`` / ``--api-key``); without them, or when the server cannot be reached or refuses the
key, the command exits 2 (a configuration problem) with what to set or check.
label_studio_sdk is imported inside the commands, so ``evalkit --help`` stays light.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from evalkit.cli.context import (
    EXIT_REJECTED,
    EXIT_USAGE,
    console,
    fail,
    open_db,
    state,
    translate_errors,
)
from evalkit.errors import UsageError

labelstudio_app = typer.Typer(
    help="Label queue items in Label Studio: export open items, import the annotations.",
    no_args_is_help=True,
)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Label Studio URL (default: EVALKIT_LABELSTUDIO_URL).")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="Label Studio access token (default: EVALKIT_LABELSTUDIO_API_KEY)."
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="Project title (default: EVALKIT_LABELSTUDIO_PROJECT)."),
]


def _client(url: str | None, api_key: str | None) -> Any:
    settings = state.settings
    url = url or settings.labelstudio_url
    key = api_key or (
        settings.labelstudio_api_key.get_secret_value() if settings.labelstudio_api_key else None
    )
    if not url:
        raise UsageError(
            "no Label Studio server: set EVALKIT_LABELSTUDIO_URL (e.g. http://localhost:8080) "
            "or pass --url"
        )
    if not key:
        raise UsageError(
            "no Label Studio access token: set EVALKIT_LABELSTUDIO_API_KEY (Label Studio: "
            "Account & Settings → Access Token) or pass --api-key"
        )
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=url.rstrip("/"), api_key=key, timeout=60)


def _talking(url: str | None, what: Any) -> Any:
    """Run ``what()``; a server that cannot be reached or refuses the key is a clear error."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    where = url or state.settings.labelstudio_url
    try:
        return what()
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach Label Studio at {where}: {exc} (check EVALKIT_LABELSTUDIO_URL)",
            EXIT_USAGE,
        )
    except ApiError as exc:
        if exc.status_code in (401, 403):
            fail(
                f"Label Studio at {where} refused the access token (HTTP {exc.status_code}): "
                "check EVALKIT_LABELSTUDIO_API_KEY",
                EXIT_USAGE,
            )
        fail(f"Label Studio at {where} answered HTTP {exc.status_code}: {exc.body}", EXIT_USAGE)


@labelstudio_app.command("export")
@translate_errors
def export(
    queue: Annotated[
        str | None, typer.Option(help="Only this queue (default: every queue).")
    ] = None,
    project: ProjectOption = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many items, in serving order.")
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Push open queue items (pending, still needing reviews) to a Label Studio project, which
    is created or brought in line with the label schema; items pushed before are skipped."""
    from evalkit.review import labelstudio as bridge
    from evalkit.review import open_items

    client = _client(url, api_key)
    title = project or state.settings.labelstudio_project
    found = _talking(url, lambda: bridge.ensure_project(client, title))
    db = open_db()
    try:
        items = open_items(db, queue=queue, limit=limit)
    finally:
        db.dispose()
    tasks = [
        bridge.task_for(
            i.item_id, i.response.id, i.response.prompt, i.response.context, i.response.response
        )
        for i in items
    ]
    report = _talking(url, lambda: bridge.push_tasks(client, found, tasks))
    state_word = "created" if found.created else "config updated" if found.config_updated else ""
    console.print(
        f"project {title!r} (id {found.id}{', ' + state_word if state_word else ''}): "
        f"{len(items)} open items, {report.pushed} pushed, {report.already} already there",
        highlight=False,
    )


@labelstudio_app.command("import")
@translate_errors
def import_(
    project: ProjectOption = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Store the project's submitted annotations as review labels by their annotators (an
    unknown annotator gets a reviewer account without password, bound to the tenants of the
    items they annotated). Re-importing stores only
    what changed since (an edited annotation is a new version). Exits 1 when any annotation was
    rejected, each listed with why."""
    from evalkit.errors import EvalkitError, StoreError
    from evalkit.review import external_reviewers, submit_external
    from evalkit.review import labelstudio as bridge

    client = _client(url, api_key)
    title = project or state.settings.labelstudio_project

    def find() -> Any:
        return [p for p in client.projects.list(title=title) if p.title == title]

    found = _talking(url, find)
    if not found:
        raise UsageError(f"Label Studio has no project {title!r}: run `evalkit labelstudio export`")
    pulled = _talking(url, lambda: bridge.pull_annotations(client, int(found[0].id)))
    rejected = [(r.annotation_id, r.item_id, r.reason) for r in pulled.rejected]
    stored = already = 0
    db = open_db()
    try:
        annotated: dict[str, list[int]] = {}
        for ann in pulled.annotations:
            annotated.setdefault(ann.annotator, []).append(ann.item_id)
        for name in external_reviewers(db, annotated):
            console.print(f"new reviewer {name!r} (no password) from Label Studio", highlight=False)
        for ann in pulled.annotations:
            try:
                result = submit_external(
                    db,
                    ann.item_id,
                    ann.annotator,
                    ann.submission,
                    source="labelstudio",
                    external_id=f"{ann.annotation_id}@{ann.updated_at}",
                )
            except StoreError:
                raise
            except EvalkitError as exc:
                rejected.append((ann.annotation_id, ann.item_id, str(exc)))
                continue
            if result is None:
                already += 1
            else:
                stored += 1
    finally:
        db.dispose()
    console.print(
        f"project {title!r}: {stored} stored, {already} already there, {len(rejected)} "
        f"rejected, {pulled.skipped} skipped (cancelled) in Label Studio",
        highlight=False,
    )
    for annotation_id, item_id, reason in rejected:
        console.print(
            f"  rejected annotation {annotation_id} (item {item_id}): {reason}", highlight=False
        )
    if rejected:
        raise typer.Exit(EXIT_REJECTED)
