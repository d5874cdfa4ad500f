"""``evalkit report``: the quality index as one self-contained HTML file.

No scripts, stylesheets, fonts or images are fetched: charts are inline SVG (``charts``) and the
style is inline. Every text from the store (responses, prompts, cells, reasons) is HTML-escaped,
since responses are untrusted model output. Each red or yellow light links to the responses
behind it further down the page, so a reader goes from a red light to its examples in one click.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from html import escape
from pathlib import Path

import pandas as pd

from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.watch import charts
from evalkit.watch.data import WatchData
from evalkit.watch.embeddings import EncodeFn
from evalkit.watch.ops import ops_table
from evalkit.watch.overview import Overview, examples
from evalkit.watch.rules import Rule
from evalkit.watch.run import WatchRun

STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{margin-bottom:0}.muted{color:#666}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 8px;
font-size:13px;vertical-align:top}th{background:#f4f4f4}
.light{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px}
.charts svg{margin:8px 16px 8px 0;border:1px solid #eee}
pre{white-space:pre-wrap;max-width:520px;margin:0;font-size:12px}
"""


def _anchor(key: str) -> str:
    return "ex-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def _num(value: float, percent: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1%}" if percent else f"{value:,.3g}"


def _lights_table(view: Overview) -> str:
    rows = []
    for r in view.lights.itertuples():
        percent = r.metric.endswith(("_rate", "_drop")) or r.metric == "cohort_gap"
        interval = (
            f"{_num(r.low, percent)} – {_num(r.high, percent)}"
            if not (math.isnan(r.low) or math.isnan(r.high))
            else ""
        )
        name = escape(f"{r.rule} · {r.by}={r.cell}")
        link = f'<a href="#{_anchor(r.key)}">{name}</a>' if r.state in ("red", "yellow") else name
        rows.append(
            f'<tr><td><span class="light" style="background:{charts.LIGHTS[r.state]}"></span>'
            f"{escape(r.state)}</td><td>{link}</td><td>{_num(r.value, percent)}</td>"
            f"<td>{interval}</td><td>{r.n}</td><td>{escape(r.reason)}</td>"
            f"<td>{escape(r.action)}</td><td>{escape(r.owner)}</td></tr>"
        )
    head = (
        "<tr><th>state</th><th>rule · cell</th><th>value</th><th>95% interval</th><th>n</th>"
        "<th>why</th><th>action</th><th>owner</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _frame_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            text = (
                "" if value is None or (isinstance(value, float) and math.isnan(value)) else value
            )
            if isinstance(text, float):
                text = f"{text:,.4g}"
            shown = escape(str(text))
            cells.append(
                f"<td><pre>{shown}</pre></td>"
                if column in ("prompt", "response")
                else f"<td>{shown}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


ROUTE_COLUMNS = [
    "model_id", "intent", "responses", "success_rate", "conversion_rate", "escalation_rate",
    "model_cost", "review_cost", "cost_per_success", "roi",
]  # fmt: skip
EXAMPLE_ORDER = ["id", "created_at", "label_positive", "decision", "prompt", "response"]


def _present(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in ROUTE_COLUMNS if c in frame.columns]]


def render(db: Database, view: Overview, data: WatchData, *, hourly_rate: float = 0.0,
           value_per_conversion: float = 0.0, examples_per_light: int = 8) -> str:  # fmt: skip
    """The report as one HTML string."""
    red = sum(view.lights["state"] == "red") if len(view.lights) else 0
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        "<title>evalkit quality index</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Quality index</h1>",
        f'<p class="muted">as of {escape(view.run.at.isoformat(timespec="minutes"))} · '
        f"{red} red · {len(view.alerts)} open alerts · rates from final human labels of "
        "probability samples, weighted by inclusion probability (Hájek), 95% intervals</p>",
        *[
            f'<p class="muted">sampled: {escape(note)}</p>'
            for note in dict.fromkeys([*view.run.notes, data.note])
            if note
        ],
        "<h2>Lights</h2>",
        view.charts.get("lights", ""),
        _lights_table(view) if len(view.lights) else "<p>no rules evaluated</p>",
        "<h2>Open alerts</h2>",
        _frame_table(
            pd.DataFrame(
                [
                    {
                        "rule": a.rule,
                        "cell": str(a.cell),
                        "state": a.state,
                        "since": a.opened_at,
                        "message": a.message,
                        "notified": a.notified_at or "not yet",
                    }
                    for a in view.alerts
                ]
            )
        ),
        '<h2>Over time</h2><div class="charts">',
        *[svg for name, svg in view.charts.items() if not name.startswith(("rule:", "lights"))],
        '</div><h2>By rule and cell</h2><div class="charts">',
        *[svg for name, svg in view.charts.items() if name.startswith("rule:")],
        "</div><h2>Cost, latency and outcomes per model</h2>",
        _frame_table(
            ops_table(
                data,
                ["model_id"],
                hourly_rate=hourly_rate,
                value_per_conversion=value_per_conversion,
            )
        ),
        "<h2>Per model and route (intent): outcomes, cost per success, ROI</h2>",
        _frame_table(
            _present(
                ops_table(
                    data,
                    ["model_id", "intent"],
                    hourly_rate=hourly_rate,
                    value_per_conversion=value_per_conversion,
                )
            )
        ),
        "<h2>Responses behind the lights</h2>",
    ]
    if len(view.lights):
        for r in view.lights.loc[view.lights["state"].isin(["red", "yellow"])].itertuples():
            rule = view.rules[r.rule]
            shown = examples(db, data, rule, r.cell, at=view.run.at, limit=examples_per_light)
            parts.append(
                f'<h3 id="{_anchor(r.key)}">{escape(r.rule)} · {escape(r.by)}={escape(r.cell)}'
                f" ({escape(r.state)})</h3><p>{escape(r.reason)}</p>"
            )
            first = [c for c in EXAMPLE_ORDER if c in shown.columns]
            parts.append(_frame_table(shown[first + [c for c in shown if c not in first]]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    db: Database,
    settings: Settings,
    rules: list[Rule],
    out: Path,
    *,
    at: datetime | None = None,
    encode: EncodeFn | None = None,
) -> WatchRun:
    """Evaluate ``rules`` (recording nothing) and write the report to ``out``."""
    from evalkit.watch import data as watch_data
    from evalkit.watch import overview
    from evalkit.watch.run import evaluate_rules

    run = evaluate_rules(db, settings, rules, at=at, notify=False, record=False, encode=encode)
    data = watch_data.load(
        db, since=overview.since_for(rules, run.at), until=run.at, cap=settings.watch_load_cap
    )
    view = overview.build(db, run, rules, data)
    html = render(
        db, view, data, hourly_rate=settings.review_hourly_rate,
        value_per_conversion=settings.value_per_conversion,
    )  # fmt: skip
    out.write_text(html, encoding="utf-8")
    return run
