"""Segment-health dashboard: a static HTML report over the published marts, and a server.

`build_report(warehouse, out_dir)` renders every section in `sections.SECTIONS` from the
warehouse file (opened read-only) into one self-contained `index.html` (plotly.js inlined,
no network needed); `server.make_server` serves that folder. See docs/dashboard.md.
"""

from segwarehouse.dashboard.report import Report, build_report
from segwarehouse.dashboard.sections import SECTIONS, Options, Panel, Section

__all__ = ["SECTIONS", "Options", "Panel", "Report", "Section", "build_report"]
