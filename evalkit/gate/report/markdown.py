"""The Markdown report: a pull-request comment a reviewer can read in half a minute.

Headline verdict first, then per suite: the rules with their numbers, what regressed against
the baseline (with the reasons), what was fixed, pass rates by tag beside the baseline's, and
the flaky and unjudged cases. Long lists are cut with a count of the rest: the JSON report has
everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.gate.evaluate import CaseResult
from evalkit.gate.policy import GateResult, Rate, rate

#: Cases listed per section before "… and N more".
LIST_LIMIT = 15


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(r: Rate | None) -> str:
    if r is None or r.value is None:
        return "–"
    return f"{r.value:.1%} ({r.passed}/{r.judged})"


def _case_lines(results: Sequence[CaseResult], limit: int = LIST_LIMIT) -> list[str]:
    lines = []
    for r in results[:limit]:
        reasons = r.reasons()
        why = _cell("; ".join(reasons))[:300] if reasons else ""
        flags = " **critical**" if r.case.critical else ""
        lines.append(f"- `{r.case.id}`{flags}" + (f": {why}" if why else ""))
    if len(results) > limit:
        lines.append(f"- … and {len(results) - limit} more (see the JSON report)")
    return lines


def _suite(g: GateResult) -> list[str]:
    mark = "✅ passed" if g.passed else "❌ failed"
    out = [f"### {mark}: `{g.suite.name}` — candidate `{g.candidate}`", ""]
    if g.suite.description:
        out += [f"_{_cell(g.suite.description)}_", ""]
    out += ["| rule | result | detail |", "|---|---|---|"]
    for rule in g.rules:
        out.append(
            f"| {_cell(rule.name)} | {'✅' if rule.passed else '❌'} | {_cell(rule.detail)} |"
        )
    out.append("")
    by_id = {r.case.id: r for r in g.results}
    c = g.comparison
    if c is not None:
        base = {r.case.id: r for r in g.baseline_results or []}
        if c.regressed:
            out += [f"**Regressed** ({len(c.regressed)}: passed in `{c.baseline}`, fail now)", ""]
            out += [*_case_lines([by_id[i] for i in c.regressed]), ""]
        if c.fixed:
            out += [f"**Fixed** ({len(c.fixed)}: failed in `{c.baseline}`, pass now)", ""]
            out += [*_case_lines([base[i] for i in c.fixed if i in base]), ""]
        if not c.regressed and not c.fixed:
            out += [f"No case changed verdict against `{c.baseline}`.", ""]
    still = [
        r
        for r in g.results
        if r.verdict is False and (c is None or r.case.id not in set(c.regressed))
    ]
    if still:
        label = "Failing" if c is None else "Still failing (failed in the baseline too, or new)"
        out += [f"**{label}** ({len(still)})", "", *_case_lines(still), ""]
    if g.by_tag:
        base_tags: dict[str, Rate] = {}
        if g.baseline_results is not None:
            for tag in g.by_tag:
                base_tags[tag] = rate([r for r in g.baseline_results if tag in r.case.tags])
        head = "| tag | pass rate | threshold |" + (" baseline |" if base_tags else "")
        out += [head, "|---|---|---|" + ("---|" if base_tags else "")]
        for tag, tag_rate in g.by_tag.items():
            minimum = g.thresholds.tags.get(tag)
            row = f"| {_cell(tag)} | {_pct(tag_rate)} | {f'{minimum:.0%}' if minimum else '–'} |"
            if base_tags:
                row += f" {_pct(base_tags.get(tag))} |"
            out.append(row)
        out.append("")
    if g.flaky:
        out += [f"**Flaky** ({len(g.flaky)}: verdicts differ across repeats)", ""]
        out += [*_case_lines(g.flaky), ""]
    if g.skipped:
        out += [f"**Not judged** ({len(g.skipped)}: skipped, not counted as passed)", ""]
        out += [*_case_lines(g.skipped), ""]
    return out


def markdown(results: Sequence[GateResult]) -> str:
    ok = all(g.passed for g in results)
    failed = [g.suite.name for g in results if not g.passed]
    head = (
        "## ✅ evalkit gate passed"
        if ok
        else "## ❌ evalkit gate failed: " + ", ".join(f"`{n}`" for n in failed)
    )
    lines = [head, ""]
    lines += ["| suite | verdict | pass rate | regressed | fixed |", "|---|---|---|---|---|"]
    for g in results:
        c = g.comparison
        lines.append(
            f"| `{g.suite.name}` | {'✅' if g.passed else '❌'} | {_pct(g.overall)} | "
            f"{len(c.regressed) if c else '–'} | {len(c.fixed) if c else '–'} |"
        )
    lines.append("")
    for g in results:
        lines += _suite(g)
    return "\n".join(lines).rstrip() + "\n"
