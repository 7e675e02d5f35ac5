"""Performance reports from the database: figures, breakdowns, text, HTML and charts.

* :mod:`daemon.reports._data` — :func:`load_report_data` reads trades, equity snapshots
  and position changes; :class:`ReportData` can also be built by hand;
* :mod:`daemon.reports._stats` — :func:`compute`: the daily curve and every figure;
* :mod:`daemon.reports._render` / ``_charts`` / ``_write`` — the outputs.

``tradingd report`` and every replay use it; docs/reports.md defines each figure.
"""

from daemon.reports._charts import charts_available as charts_available
from daemon.reports._charts import render_charts as render_charts
from daemon.reports._data import ReportData as ReportData
from daemon.reports._data import TradeRecord as TradeRecord
from daemon.reports._data import load_report_data as load_report_data
from daemon.reports._render import render_html as render_html
from daemon.reports._render import render_text as render_text
from daemon.reports._stats import Group as Group
from daemon.reports._stats import Report as Report
from daemon.reports._stats import business_days as business_days
from daemon.reports._stats import compute as compute
from daemon.reports._write import ReportFiles as ReportFiles
from daemon.reports._write import write_report as write_report

__all__ = (
    "Group",
    "Report",
    "ReportData",
    "ReportFiles",
    "TradeRecord",
    "business_days",
    "charts_available",
    "compute",
    "load_report_data",
    "render_charts",
    "render_html",
    "render_text",
    "write_report",
)
