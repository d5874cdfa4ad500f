"""Gate reports: JSON (everything), JUnit XML (for CI test views), Markdown (for a PR comment).

Each takes the ``GateResult`` of every suite in a run and returns text; the CLI writes it.
"""

from evalkit.gate.report.json_report import report_dict, report_json
from evalkit.gate.report.junit import junit_xml
from evalkit.gate.report.markdown import markdown

__all__ = ["junit_xml", "markdown", "report_dict", "report_json"]
