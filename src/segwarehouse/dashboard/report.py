"""Build the dashboard: two self-contained HTML pages (plotly.js inlined, nothing fetched).

index.html is the overview for marketing (segwarehouse.dashboard.overview); details.html holds
the operations panels (publish status, runs, data-quality checks) and the analysis sections.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from plotly.offline import get_plotlyjs

from segwarehouse.dashboard.overview import OverviewData, overview_data
from segwarehouse.dashboard.overview_page import DETAILS, render_overview
from segwarehouse.dashboard.page_head import page_head
from segwarehouse.dashboard.sections import SECTIONS, Options, Panel, Section, render_section
from segwarehouse.dashboard.source import Warehouse

INDEX = "index.html"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass
class Report:
    """What a build wrote."""

    path: Path
    panels: list[Panel]
    seconds: float
    overview: OverviewData | None = None

    @property
    def details_path(self) -> Path:
        """The second page: operations and details."""
        return self.path.with_name(DETAILS)

    @property
    def errors(self) -> list[Panel]:
        return [panel for panel in self.panels if panel.status == "error"]

    @property
    def failed(self) -> bool:
        """A section or an overview panel failed (the pages are written all the same)."""
        return bool(self.errors) or bool(self.overview and self.overview.errors)

    def summary_lines(self) -> list[str]:
        counts = pd.Series([panel.status for panel in self.panels]).value_counts()
        lines = [
            f"wrote {self.path} and {DETAILS} in {self.seconds:.1f}s: "
            + ", ".join(f"{count} {status}" for status, count in counts.items())
        ]
        if self.overview is not None:
            lines += [
                f"  overview {key}: missing: {message}"
                for key, message in self.overview.missing.items()
            ]
            lines += [
                f"  overview {key}: error: {message}"
                for key, message in self.overview.errors.items()
            ]
        lines += [
            f"  {panel.key}: {panel.status}: {panel.message}"
            for panel in self.panels
            if panel.status != "ok"
        ]
        return lines


def build_report(
    warehouse_path: Path,
    out_dir: Path,
    options: Options | None = None,
    sections: list[Section] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Render the overview into out_dir/index.html and every section into out_dir/details.html,
    from the warehouse (opened read-only).

    Each file is written beside its target and moved into place, so a server never hands out
    a half-written page; details.html is moved first, index.html (the server's staleness mark)
    last.
    """
    options = options or Options()
    sections = SECTIONS if sections is None else sections
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    panels = []
    with Warehouse(warehouse_path) as warehouse:
        say(f"dashboard: reading {warehouse_path} ({len(warehouse.tables)} tables)")
        for number, item in enumerate(sections, start=1):
            panel = render_section(item, warehouse, options)
            say(
                f"dashboard: [{number}/{len(sections)}] {item.title}: {panel.status}"
                f" ({panel.seconds:.1f}s)"
            )
            panels.append(panel)
        overview = overview_data(warehouse)
        say(f"dashboard: overview ({len(overview.frames)} frames, {len(overview.missing)} missing)")
    built_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / DETAILS, render_page(panels, warehouse_path, built_at))
    index = render_overview(overview, warehouse_path, built_at, get_plotlyjs(), _CSS)
    target = _write(out_dir / INDEX, index)
    return Report(target, panels, time.perf_counter() - started, overview)


def _write(target: Path, page: str) -> Path:
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staged.write_text(page, encoding="utf-8")
    os.replace(staged, target)
    return target


def render_page(panels: list[Panel], warehouse_path: Path, built_at: str) -> str:
    """The whole second page (operations and details)."""
    nav = '<a href="index.html">&larr; Overview</a>' + "".join(
        f'<a href="#{panel.key}" class="nav-{panel.status}">{html.escape(panel.title)}</a>'
        for panel in panels
    )
    body = "\n".join(render_panel(panel) for panel in panels)
    return _PAGE.format(
        head=page_head(TITLE, _CSS, get_plotlyjs()),
        warehouse=html.escape(str(warehouse_path)),
        built_at=built_at,
        title=TITLE,
        nav=nav,
        body=body,
    )


def render_panel(panel: Panel) -> str:
    """One <section>: title, description, then the plot or a status box."""
    parts = [
        f'<section class="panel" id="{panel.key}" data-status="{panel.status}">',
        f"<h2>{html.escape(panel.title)}</h2>",
        f'<p class="description">{html.escape(panel.section.description)}</p>',
    ]
    message = html.escape(panel.message or "")
    if panel.status == "missing":
        parts.append(f'<div class="unavailable">{message}</div>')
    elif panel.status == "empty":
        parts.append(f'<div class="empty">{message}</div>')
    elif panel.status == "error":
        parts.append(f'<div class="error-box">this section failed: {message}</div>')
    elif panel.result is not None:
        if panel.message:
            parts.append(f'<p class="note">{message}</p>')
        if panel.result.figure is not None:
            parts.append(
                panel.result.figure.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"plot-{panel.key}",
                    config=PLOT_CONFIG,
                )
            )
        if panel.result.table is not None:
            parts.append(_table(panel.result.table))
    parts.append("</section>")
    return "\n".join(parts)


def _table(frame: pd.DataFrame) -> str:
    table = frame.to_html(index=False, classes="data", border=0, escape=True, na_rep="")
    return f'<div class="table-wrap">{table}</div>'


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222;
       background: #f5f6f8; }
header { background: #1f2d3d; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 1.4em; }
header p { margin: 4px 0 0; font-size: 0.85em; color: #c8d1dc; }
nav { display: flex; flex-wrap: wrap; gap: 6px 14px; padding: 10px 24px; background: #fff;
      border-bottom: 1px solid #dde; font-size: 0.9em; }
nav a { color: #1f5fa8; text-decoration: none; }
nav a.nav-missing, nav a.nav-empty { color: #888; }
nav a.nav-error { color: #b00020; font-weight: bold; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(620px, 1fr)); gap: 16px;
       padding: 16px 24px; align-items: start; }
.table-wrap { overflow-x: auto; max-height: 320px; overflow-y: auto; }
.panel { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 12px 16px;
         min-width: 0; }
.panel h2 { margin: 0 0 4px; font-size: 1.1em; }
.description { margin: 0 0 8px; color: #555; font-size: 0.85em; }
.note { margin: 0 0 6px; font-size: 0.85em; color: #333; }
.unavailable, .empty { padding: 24px; text-align: center; color: #666; background: #f0f0f3;
                       border-radius: 4px; }
.error-box { padding: 16px; color: #b00020; background: #fdecee; border: 1px solid #b00020;
             border-radius: 4px; }
table.data { border-collapse: collapse; font-size: 0.8em; margin-top: 8px; }
table.data th, table.data td { padding: 3px 8px; border-bottom: 1px solid #eee;
                               text-align: left; }
"""

TITLE = "Customer segments: operations and details"

_PAGE = """{head}<body>
<header>
<h1>{title}</h1>
<p>built {built_at} from <code>{warehouse}</code> (read-only)</p>
</header>
<nav>{nav}</nav>
<main>
{body}
</main>
</body>
</html>
"""
