"""End to end: `segwarehouse dashboard serve` on localhost, loaded in headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), driven by Playwright; no
browser is downloaded. Without it these tests fail with the install command, they do not
skip. Screenshots go to $SEGMENTS_TEST_ARTIFACTS (default target/test-artifacts/dashboard);
with SEGMENTS_UPDATE_SCREENSHOTS=1 the full page is also copied to docs/img/dashboard.png.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from segwarehouse.dashboard import SECTIONS, build_report
from segwarehouse.dashboard.overview_page import DETAILS
from segwarehouse.dashboard.server import make_server
from test_dashboard import (
    SINGLE_BUILD_EMPTY,
    TABLE_ONLY,
    _read,
    expected_kpis,
    published_serving_file,
    synthetic_warehouse,
    two_run_warehouse,
)
from test_dashboard_experiments import holdout_results, holdout_warehouse

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SEGMENTS_CHROMIUM", "/usr/bin/chromium"))
# Playwright adds --headless and a fresh, empty --user-data-dir (a temp folder) itself.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = (
    Path(os.environ.get("SEGMENTS_TEST_ARTIFACTS", PROJECT_DIR / "target" / "test-artifacts"))
    / "dashboard"
)

# Per plot: traces with data (plotly's own model of what it drew: _fullData, typed arrays
# decoded) and SVG marks on screen (points, lines, bars, boxes, heat-map images, Sankey nodes).
PLOT_STATE_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  section: gd.closest('section').id,
  status: gd.closest('section').dataset.status,
  traces: (gd._fullData || []).length,
  points: (gd._fullData || []).map(t =>
      (t.x || t.z || t.y || (t.node && t.node.label) || []).length),
  marks: gd.querySelectorAll(
      'svg.main-svg .trace path.point, svg.main-svg .trace path.js-line, '
      + '.barlayer .trace path, .boxlayer .trace path, .heatmaplayer image, '
      + '.sankey-node rect.node-rect').length,
  svg: gd.querySelectorAll('svg.main-svg').length,
}))
"""


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the dashboard's browser tests need Debian's "
            "chromium (`apt-get install -y chromium`, as .ci/run does) or SEGMENTS_CHROMIUM "
            "pointing at a Chromium binary",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text()
            raise AssertionError(f"dashboard serve exited {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"dashboard serve did not answer on {url} within {timeout}s")


@pytest.fixture(scope="module")
def serving_file(built, tmp_path_factory) -> Path:
    return published_serving_file(built, tmp_path_factory)


@pytest.fixture(scope="module")
def served(built, tmp_path_factory) -> Iterator[str]:
    """`segwarehouse dashboard serve` over the published serving file, on a free port."""
    serving = published_serving_file(built, tmp_path_factory)
    out = tmp_path_factory.mktemp("dashboard-site")
    port = _free_port()
    log = out.parent / f"{out.name}-serve.log"
    handle = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segwarehouse.cli",
            "dashboard",
            "serve",
            "--warehouse",
            str(serving),
            "--out",
            str(out),
            "--port",
            str(port),
        ],
        cwd=PROJECT_DIR,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        handle.close()


def _load(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """Open the page, collect console errors and uncaught exceptions, wait for every plot."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((url, "data:"))
            else problems.append(f"request outside the dashboard: {request.url}")
        ),
    )
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".every(gd => gd.querySelector('svg.main-svg'))",
        timeout=60_000,
    )
    return page, problems


def _screenshots(page: Page, name: str) -> Path:
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    full = folder / "dashboard.png"
    page.screenshot(path=str(full), full_page=True)
    for element in page.query_selector_all("section.panel"):
        element.screenshot(path=str(folder / f"{element.get_attribute('id')}.png"))
    return full


def test_every_chart_renders_with_data_in_chromium(browser, served):
    page, problems = _load(browser, served + DETAILS)
    sections = {item.key: item.title for item in SECTIONS}
    titles = page.locator("section.panel h2").all_inner_texts()
    assert titles == list(sections.values())
    statuses = {
        element.get_attribute("id"): element.get_attribute("data-status")
        for element in page.query_selector_all("section.panel")
    }
    assert statuses == {key: "ok" for key in sections} | dict.fromkeys(SINGLE_BUILD_EMPTY, "empty")

    plots = {plot["section"]: plot for plot in page.evaluate(PLOT_STATE_JS)}
    assert set(plots) == {
        key for key, status in statuses.items() if status == "ok" and key not in TABLE_ONLY
    }
    status_table = page.locator("#publish_status table.data").inner_text()
    assert "last successful publish" in status_table and "published" in status_table
    for key, plot in plots.items():
        assert plot["svg"] >= 1, (key, plot)
        assert plot["traces"] >= 1 and all(count > 0 for count in plot["points"]), (key, plot)
        assert plot["marks"] > 0, (key, plot)

    assert page.locator(".error-box").count() == 0
    for key, table in SINGLE_BUILD_EMPTY.items():
        text = page.locator(f"#{key} .empty").inner_text()
        assert text == f"{table} has no rows in this warehouse"
    assert problems == []

    full = _screenshots(page, "published")
    assert full.stat().st_size > 50_000
    _update_docs_screenshot(page, "dashboard-details.png", full_page=False)
    page.close()


def _update_docs_screenshot(page: Page, name: str, full_page: bool) -> None:
    """With SEGMENTS_UPDATE_SCREENSHOTS=1: the page (or its first screen, to keep the PNG
    small) into docs/img/."""
    if os.environ.get("SEGMENTS_UPDATE_SCREENSHOTS") == "1":
        target = PROJECT_DIR / "docs" / "img" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the panel screenshots scrolled it
        page.screenshot(path=str(target), full_page=full_page)


def test_sections_of_the_coming_marts_render_in_chromium(browser, tmp_path):
    """segment_health, segment_migration and campaign_lift over several runs, on hand-made marts."""
    report = build_report(synthetic_warehouse(tmp_path), tmp_path / "site")
    server = make_server(report.path.parent, "127.0.0.1", 0, lambda: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page, problems = _load(browser, f"http://127.0.0.1:{server.server_address[1]}/{DETAILS}")
        plots = {plot["section"]: plot for plot in page.evaluate(PLOT_STATE_JS)}
        for key in (
            "segment_health",
            "segment_migration",
            "campaign_lift",
            "segment_sizes_over_time",
        ):
            assert plots[key]["marks"] > 0 and all(plots[key]["points"]), (key, plots[key])
        assert page.locator("#segment_migration .sankey-node").count() == 5
        assert page.locator("#segment_health table.data").inner_text().count("size_drop") == 1
        assert page.locator(".error-box").count() == 0
        assert problems == []
        _screenshots(page, "coming-marts")
        page.close()
    finally:
        server.shutdown()
        server.server_close()


# --- the first page: KPI tiles and filters ------------------------------------------------------


def _tiles(page: Page) -> dict[str, dict[str, str | None]]:
    return {
        tile.get_attribute("data-kpi"): {
            "value": tile.get_attribute("data-value"),
            "previous": tile.get_attribute("data-previous"),
            "text": tile.inner_text(),
        }
        for tile in page.query_selector_all("#kpis .tile")
    }


def _revenue_bars(page: Page) -> list[tuple[str, float]]:
    """The weekly bars in plotly's model, after checking they are all drawn on screen."""
    bars = page.evaluate(
        """() => { const t = document.getElementById('plot-revenue_trend')._fullData[0];
                   return Array.from(t.x).map((x, i) => [String(x).slice(0, 10), t.y[i]]); }"""
    )
    drawn = page.locator("#plot-revenue_trend .barlayer .trace path").count()
    assert drawn == len(bars) > 0
    return [(week, revenue) for week, revenue in bars]


def _choose(page: Page, selector: str, value: str) -> None:
    before = page.evaluate("document.body.dataset.rendered")
    if selector == "#filter-segment":
        page.select_option(selector, value)
    else:
        page.fill(selector, value)
        page.dispatch_event(selector, "change")
    page.wait_for_function(f"document.body.dataset.rendered !== {before!r}")


def test_overview_kpi_tiles_and_filters_in_chromium(browser, served, serving_file):
    page, problems = _load(browser, served)
    expected = expected_kpis(serving_file)
    tiles = _tiles(page)
    assert list(tiles) == [
        "customers",
        "active_buyers",
        "revenue_90d",
        "mean_clv",
        "mean_churn_probability",
    ]
    for key, value in expected["all"].items():
        assert float(tiles[key]["value"]) == pytest.approx(value, rel=1e-9), key
        assert "no previous run" in tiles[key]["text"]  # one build: nothing to compare with
    customers = int(expected["all"]["customers"])
    assert tiles["customers"]["text"].startswith(f"Customers\n{customers:,}")
    weeks_all = _revenue_bars(page)
    assert sum(revenue for _week, revenue in weeks_all) == pytest.approx(
        expected["all_revenue"], rel=1e-9
    )
    _screenshots(page, "overview")
    _update_docs_screenshot(page, "dashboard.png", full_page=True)

    # The segment filter: the tiles become the segment's, the revenue trend its members'.
    segment = expected["segment_id"]
    _choose(page, "#filter-segment", segment)
    tiles = _tiles(page)
    assert tiles["customers"]["text"].startswith("Members")
    for key, value in expected["segment"].items():
        assert float(tiles[key]["value"]) == pytest.approx(value, rel=1e-9), key
    weeks_segment = _revenue_bars(page)
    assert sum(revenue for _week, revenue in weeks_segment) == pytest.approx(
        expected["segment_revenue"], rel=1e-9
    )
    assert page.locator("#segment_sizes .js-plotly-plot").count() == 1
    assert page.locator("#plot-segment_sizes .barlayer .trace path").count() > 0
    for plot in ("audience_funnel", "next_best_action"):
        assert (
            page.locator(f"#plot-{plot} .main-svg").count() > 0
            or page.locator(f"#plot-{plot} .empty").count() == 1
        )
    assert page.locator("#plot-next_best_action .barlayer .trace path").count() > 0
    # The holdout experiments: one table row per row of marts.experiment_results.
    holdouts = page.locator("#holdout_experiments")
    assert holdouts.locator("h2").inner_text() == "Holdout experiments"
    experiments = _read(serving_file, "select experiment_id from marts.experiment_results")
    assert holdouts.locator("#holdout-table tbody tr").count() == len(experiments)
    bold = page.evaluate(
        "() => document.getElementById('plot-segment_sizes')._fullData[0].marker.line.width"
    )
    assert sorted(bold)[-1] == 3 and bold.count(3) == 1  # the chosen segment's bar

    # The date filter: only the weeks in range are drawn.
    _choose(page, "#filter-from", "2026-01-01")
    weeks_from = _revenue_bars(page)
    assert weeks_from == [
        (week, revenue) for week, revenue in weeks_segment if week >= "2026-01-01"
    ]
    assert 0 < len(weeks_from) < len(weeks_segment)
    _choose(page, "#filter-to", "2026-06-01")
    tiles = _tiles(page)
    assert all(tile["value"] == "" for tile in tiles.values())  # no run on or before that day
    assert "no run on or before 2026-06-01" in page.locator("#filter-note").inner_text()
    assert page.locator(".error-box").count() == 0
    assert problems == []
    page.close()


def test_tiles_compare_with_the_previous_run_in_chromium(browser, tmp_path):
    """Two runs: each tile shows the change against the earlier one."""
    path, expected = two_run_warehouse(tmp_path)
    report = build_report(path, tmp_path / "site")
    server = make_server(report.path.parent, "127.0.0.1", 0, lambda: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page, problems = _load(browser, f"http://127.0.0.1:{server.server_address[1]}/")
        tiles = _tiles(page)
        for key, (now, before) in expected.items():
            assert float(tiles[key]["value"]) == pytest.approx(now), key
            assert float(tiles[key]["previous"]) == pytest.approx(before), key
        assert "+20 (+20.0 %) vs 2026-05-31" in tiles["customers"]["text"]
        _choose(page, "#filter-segment", "lifecycle_active")
        tiles = _tiles(page)
        assert float(tiles["customers"]["value"]) == 80
        assert "+20 (+33.3 %) vs 2026-05-31" in tiles["customers"]["text"]
        lines = page.locator("#plot-segment_sizes .scatterlayer .trace path.js-line")
        assert lines.count() == 2  # drawn again after the filter changed
        sizes = page.evaluate(
            "() => document.getElementById('plot-segment_sizes')._fullData"
            ".map(t => [t.name, t.line.color, t.xaxis])"
        )
        assert len(sizes) == 2 and len({colour for _name, colour, _axis in sizes}) == 2
        ticks = page.evaluate(
            "() => Array.from(document.querySelectorAll('#plot-segment_sizes .xtick text'))"
            ".map(t => t.textContent)"
        )
        assert ticks and all(len(tick) == 10 and tick[4] == "-" for tick in ticks), ticks
        assert problems == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()


def test_holdout_error_bars_are_the_adjusted_intervals_in_chromium(browser, tmp_path):
    """Hand-made experiment_results: each plot's error bars span the adjusted interval."""
    report = build_report(holdout_warehouse(tmp_path / "exp.duckdb"), tmp_path / "site")
    server = make_server(report.path.parent, "127.0.0.1", 0, lambda: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page, problems = _load(browser, f"http://127.0.0.1:{server.server_address[1]}/")
        page.locator("#holdout_experiments").scroll_into_view_if_needed()
        results = holdout_results().dropna(subset=["conversion_ci_adjusted_low"])
        for metric, scale in (("conversion", 100.0), ("revenue", 1.0)):
            drawn = page.evaluate(
                f"() => (t => [t.y, t.x, t.error_x.array, t.error_x.arrayminus])"
                f"(document.getElementById('plot-holdouts-{metric}')._fullData[0])"
            )
            names, values, above, below = drawn
            assert names == results["experiment_id"].tolist()
            lift = results[f"{metric}_lift_abs"]
            assert values == pytest.approx((scale * lift).tolist())
            assert [v + a for v, a in zip(values, above, strict=True)] == pytest.approx(
                (scale * results[f"{metric}_ci_adjusted_high"]).tolist()
            )
            assert [v - b for v, b in zip(values, below, strict=True)] == pytest.approx(
                (scale * results[f"{metric}_ci_adjusted_low"]).tolist()
            )
            assert page.locator(f"#plot-holdouts-{metric} .errorbar").count() == len(results)
        table = page.locator("#holdout-table").inner_text()
        assert "inconclusive: too small" in table and "not measured yet" in table
        assert problems == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()
