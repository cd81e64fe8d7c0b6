"""End to end: `segwarehouse dashboard serve` on localhost, loaded in headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), driven by Playwright; no
browser is downloaded. Without it these tests fail with the install command, they do not
skip. Screenshots go to $SEGMENTS_TEST_ARTIFACTS (default target/test-artifacts/dashboard);
with SEGMENTS_UPDATE_SCREENSHOTS=1 the full page is also copied to docs/img/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
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
from segwarehouse.dashboard.server import make_server
from test_dashboard import SINGLE_BUILD_EMPTY, published_serving_file, synthetic_warehouse

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
    page, problems = _load(browser, served)
    sections = {item.key: item.title for item in SECTIONS}
    titles = page.locator("section.panel h2").all_inner_texts()
    assert titles == list(sections.values())
    statuses = {
        element.get_attribute("id"): element.get_attribute("data-status")
        for element in page.query_selector_all("section.panel")
    }
    assert statuses == {key: "ok" for key in sections} | dict.fromkeys(SINGLE_BUILD_EMPTY, "empty")

    plots = {plot["section"]: plot for plot in page.evaluate(PLOT_STATE_JS)}
    assert set(plots) == {key for key, status in statuses.items() if status == "ok"}
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
    if os.environ.get("SEGMENTS_UPDATE_SCREENSHOTS") == "1":
        target = PROJECT_DIR / "docs" / "img" / "dashboard.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(full, target)
    page.close()


def test_sections_of_the_coming_marts_render_in_chromium(browser, tmp_path):
    """segment_health, segment_migration and campaign_lift over several runs, on hand-made marts."""
    report = build_report(synthetic_warehouse(tmp_path), tmp_path / "site")
    server = make_server(report.path.parent, "127.0.0.1", 0, lambda: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page, problems = _load(browser, f"http://127.0.0.1:{server.server_address[1]}/")
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
