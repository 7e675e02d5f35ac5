"""Writing a report: the terminal text, ``report.html`` and the PNG charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from daemon.reports._charts import charts_available, render_charts
from daemon.reports._render import render_html, render_text
from daemon.reports._stats import Report


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    text: str
    html: Path
    charts: list[Path] = field(default_factory=list)
    note: str = ""


def write_report(rep: Report, out_dir: str | Path) -> ReportFiles:
    """Write ``report.txt``, ``report.html`` and the charts into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts = render_charts(rep)
    note = ""
    if not charts and rep.days and not charts_available():
        note = "charts need matplotlib: pip install 'tradingd[demo]'"
    text = render_text(rep)
    (out / "report.txt").write_text(text, encoding="utf-8")
    paths: list[Path] = []
    for name, png in charts.items():
        p = out / name
        p.write_bytes(png)
        paths.append(p)
    html_path = out / "report.html"
    html_path.write_text(render_html(rep, charts, note=note), encoding="utf-8")
    return ReportFiles(text=text, html=html_path, charts=paths, note=note)
