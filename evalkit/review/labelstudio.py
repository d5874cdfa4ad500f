"""The Label Studio bridge: review queue items labelled in Label Studio, labels back in evalkit.

Teams that already run Label Studio can label there instead of in the reviewer app:

- ``label_config()`` writes Label Studio's labelling config from the label schema
  (``evalkit.review.schema``): one ``Choices`` per head with the schema's keyboard keys as
  hotkeys and the guidelines as hints, the heads' extra fields as ``Choices`` / ``TextArea``
  (harm's category shown only when harm is not ``none``, as the schema requires it). Prompt,
  context and response are ``Text`` objects, which Label Studio shows as text, never as HTML.
- ``task_for()`` turns a queue item into a task carrying the evalkit ids, so an export can skip
  what it pushed before and an import knows where an annotation belongs.
- ``submission_from_result()`` reads an annotation's result back into the schema's
  ``Submission``, validated exactly as a reviewer-app submission.

The functions that talk to a server take a ``label_studio_sdk.LabelStudio`` client; the store is
reached only through the review stage's public functions (``evalkit.review``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from evalkit.errors import UsageError
from evalkit.review.schema import GENERAL, HEADS, Head, Submission, parse_submission

#: The object all controls label; prompt and context are shown for reading only.
RESPONSE = "response"
#: Task data keys evalkit owns (Label Studio keeps unknown keys as they are).
ITEM_KEY, RESPONSE_KEY = "evalkit_item_id", "evalkit_response_id"
#: A field's control is named ``<head>__<field>``: Label Studio names may not hold dots.
SEP = "__"


def _control(head_name: str, field_name: str | None = None) -> str:
    return head_name if field_name is None else f"{head_name}{SEP}{field_name}"


def label_config(heads: Sequence[Head] = HEADS) -> str:
    """Label Studio's labelling config (XML) mirroring the label schema."""
    q = quoteattr
    lines = ['<View style="display: flex; flex-direction: column; gap: 8px">']
    for name, title in (("prompt", "Prompt"), ("context", "Context"), (RESPONSE, "Response")):
        lines.append(f'  <Header value={q(title)} size="5"/>')
        lines.append(f'  <Text name={q(name)} value={q("$" + name)} granularity="word"/>')
    for h in heads:
        lines.append(f'  <Header value={q(h.label)} size="4"/>')
        lines.append(f"  <Text name={q(h.name + SEP + 'guideline')} value={q(h.guideline)}/>")
        lines.append(
            f'  <Choices name={q(h.name)} toName={q(RESPONSE)} choice="single-radio" '
            f'required="true" showInline="true">'
        )
        for c in h.choices:
            hint = c.label + (f": {c.guideline}" if c.guideline else "")
            lines.append(f"    <Choice value={q(c.value)} hotkey={q(c.key)} hint={q(hint)}/>")
        lines.append("  </Choices>")
        for f in h.fields:
            name = _control(h.name, f.name)
            when = ""
            if f.required_unless is not None:
                shown = ",".join(v for v in h.values if v not in f.required_unless)
                when = (
                    f' visibleWhen="choice-selected" whenTagName={q(h.name)} '
                    f"whenChoiceValue={q(shown)}"
                )
            if f.kind in ("choice", "flag"):
                kind = "single-radio" if f.kind == "choice" else "multiple"
                lines.append(
                    f"  <Choices name={q(name)} toName={q(RESPONSE)} choice={q(kind)} "
                    f'showInline="true"{when}>'
                )
                options = f.choices if f.kind == "choice" else ()
                for c in options:
                    lines.append(f"    <Choice value={q(c.value)} hotkey={q(c.key)}/>")
                if f.kind == "flag":
                    hotkey = f" hotkey={q(f.key)}" if f.key else ""
                    lines.append(f'    <Choice value="true"{hotkey} hint={q(f.label)}/>')
                lines.append("  </Choices>")
            elif f.kind in ("text", "span"):
                lines.append(f'  <Header value={q(f.label)} size="6"/>')
                lines.append(
                    f'  <TextArea name={q(name)} toName={q(RESPONSE)} maxSubmissions="1" '
                    f'editable="true" placeholder={q(f.guideline)}{when}/>'
                )
    for f in GENERAL:
        if f.kind == "text":
            lines.append(f'  <Header value={q(f.label)} size="6"/>')
            lines.append(
                f'  <TextArea name={q(f.name)} toName={q(RESPONSE)} maxSubmissions="1" '
                f'editable="true" placeholder={q(f.guideline)}/>'
            )
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def task_for(
    item_id: int, response_id: str, prompt: str | None, context: str | None, response: str
) -> dict[str, Any]:
    """A Label Studio task for one queue item (every ``$variable`` of the config is present)."""
    return {
        "data": {
            ITEM_KEY: item_id,
            RESPONSE_KEY: response_id,
            "prompt": prompt or "",
            "context": context or "",
            RESPONSE: response,
        }
    }


def submission_from_result(
    result: Iterable[Mapping[str, Any]], *, seconds: float | None = None
) -> Submission:
    """An annotation's ``result`` (Label Studio's regions) as the schema's ``Submission``.

    Raises ``UsageError`` when it does not satisfy the schema (an answer missing, a value the
    schema does not know): such an annotation is reported, never half-imported.
    """
    values: dict[str, Any] = {}
    for region in result:
        name = str(region.get("from_name", ""))
        value = region.get("value") or {}
        if value.get("choices"):
            values[name] = str(value["choices"][0])
        elif value.get("text"):
            text = value["text"]
            values[name] = "\n".join(text) if isinstance(text, list) else str(text)
    labels: dict[str, dict[str, Any]] = {}
    for h in HEADS:
        if h.name not in values:
            continue
        answer: dict[str, Any] = {"value": values[h.name]}
        for f in h.fields:
            raw = values.get(_control(h.name, f.name))
            if raw is None:
                continue
            answer[f.name] = raw == "true" if f.kind == "flag" else raw
        labels[h.name] = answer
    general = {f.name: values[f.name] for f in GENERAL if f.kind == "text" and f.name in values}
    if seconds is not None:
        general["seconds"] = max(0.0, float(seconds))
    return parse_submission(labels, **general)


@dataclass(frozen=True)
class Annotation:
    """A submitted Label Studio annotation, ready to store as labels by its annotator."""

    annotation_id: int
    #: the evalkit queue item and response the task was made from
    item_id: int
    response_id: str
    #: who annotated, as Label Studio knows them (their e-mail, else their username)
    annotator: str
    submission: Submission
    #: Label Studio's last change to the annotation, so a re-import after an edit is seen
    updated_at: str


@dataclass(frozen=True)
class Rejected:
    """An annotation that could not be read (named, with why), never silently dropped."""

    annotation_id: int
    item_id: int | None
    reason: str


# --- talking to a server (a ``label_studio_sdk.LabelStudio`` client) -------------------------


@dataclass(frozen=True)
class Project:
    id: int
    title: str
    created: bool
    #: the labelling config was changed to match the schema (a schema change since last time)
    config_updated: bool


def ensure_project(client: Any, title: str, *, description: str = "") -> Project:
    """The project named ``title``, created if absent, its labelling config made to match the
    label schema (so a schema change reaches Label Studio on the next export)."""
    config = label_config()
    found = [p for p in client.projects.list(title=title) if p.title == title]
    if not found:
        made = client.projects.create(
            title=title,
            description=description,
            label_config=config,
            show_skip_button=True,
            expert_instruction=_instructions(),
            show_instruction=True,
        )
        return Project(int(made.id), title, created=True, config_updated=False)
    project = found[0]
    current = client.projects.get(id=project.id)
    if (current.label_config or "").strip() == config.strip():
        return Project(int(project.id), title, created=False, config_updated=False)
    client.projects.update(id=project.id, label_config=config, expert_instruction=_instructions())
    return Project(int(project.id), title, created=False, config_updated=True)


def _instructions() -> str:
    """The guidelines as Label Studio's instructions (HTML it shows annotators; escaped)."""
    from html import escape

    parts = []
    for h in HEADS:
        items = "".join(
            f"<li><b>{escape(c.value)}</b> ({escape(c.key)}): {escape(c.label)}"
            + (f" — {escape(c.guideline)}" if c.guideline else "")
            + "</li>"
            for c in h.choices
        )
        parts.append(f"<h3>{escape(h.label)}</h3><p>{escape(h.guideline)}</p><ul>{items}</ul>")
    return "".join(parts)


def _tasks(client: Any, project_id: int, *, with_annotations: bool) -> Iterable[Any]:
    fields = "all" if with_annotations else None
    kwargs: dict[str, Any] = {"project": project_id, "page_size": 500}
    if fields:
        kwargs["fields"] = fields
    return client.tasks.list(**kwargs)


def pushed_item_ids(client: Any, project_id: int) -> set[int]:
    """The evalkit item ids the project already has a task for."""
    out = set()
    for task in _tasks(client, project_id, with_annotations=False):
        value = (task.data or {}).get(ITEM_KEY)
        if value is not None:
            out.add(int(value))
    return out


@dataclass(frozen=True)
class PushReport:
    project: Project
    pushed: int
    #: items that already had a task (an earlier export): left as they are
    already: int


def push_tasks(client: Any, project: Project, tasks: Sequence[Mapping[str, Any]]) -> PushReport:
    """Import ``tasks`` (from ``task_for``) into the project, skipping items pushed before."""
    have = pushed_item_ids(client, project.id)
    new = [t for t in tasks if int(t["data"][ITEM_KEY]) not in have]
    for start in range(0, len(new), 500):
        client.projects.import_tasks(id=project.id, request=list(new[start : start + 500]))
    return PushReport(project, pushed=len(new), already=len(tasks) - len(new))


@dataclass(frozen=True)
class PullReport:
    annotations: tuple[Annotation, ...]
    rejected: tuple[Rejected, ...]
    #: cancelled (skipped) annotations: not labels, not errors
    skipped: int


def pull_annotations(client: Any, project_id: int) -> PullReport:
    """Every submitted annotation of the project, read into the schema's ``Submission``."""
    users = {int(u.id): (u.email or u.username or f"user-{u.id}") for u in client.users.list()}
    annotations: list[Annotation] = []
    rejected: list[Rejected] = []
    skipped = 0
    for task in _tasks(client, project_id, with_annotations=True):
        data = task.data or {}
        item_id = data.get(ITEM_KEY)
        for raw in task.annotations or []:
            ann = raw if isinstance(raw, Mapping) else raw.model_dump()
            annotation_id = int(ann["id"])
            if ann.get("was_cancelled"):
                skipped += 1
                continue
            if item_id is None or data.get(RESPONSE_KEY) is None:
                rejected.append(Rejected(annotation_id, None, "the task was not made by evalkit"))
                continue
            try:
                submission = submission_from_result(
                    ann.get("result") or [], seconds=ann.get("lead_time")
                )
            except UsageError as exc:
                rejected.append(Rejected(annotation_id, int(item_id), str(exc)))
                continue
            who = ann.get("completed_by")
            who_id = who.get("id") if isinstance(who, Mapping) else who
            annotations.append(
                Annotation(
                    annotation_id=annotation_id,
                    item_id=int(item_id),
                    response_id=str(data[RESPONSE_KEY]),
                    annotator=users.get(int(who_id), f"user-{who_id}") if who_id else "unknown",
                    submission=submission,
                    updated_at=str(ann.get("updated_at") or ann.get("created_at") or ""),
                )
            )
    return PullReport(tuple(annotations), tuple(rejected), skipped)
