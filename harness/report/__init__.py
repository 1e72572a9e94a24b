"""Reports: a self-contained HTML page with per-scenario timelines, summary.json and junit.xml per run.

``write_report(run, reports_dir)`` is safe to call from a ``finally`` block with partial data.
"""

from harness.report.model import PanelCheck, RuleCoverage, RunReport
from harness.report.writer import rebuild_index, write_report

__all__ = ["PanelCheck", "RuleCoverage", "RunReport", "rebuild_index", "write_report"]
