"""The dashboard's sections against independent pandas/numpy computations on the marts.

Two sources: the published serving file of the `built` warehouse (the real marts), and small
hand-made warehouses for what the generated data cannot show yet (several build dates, the
segment_health / segment_migration / campaign_lift marts over several runs, missing and
broken marts).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from segwarehouse import cli, publish
from segwarehouse.dashboard import SECTIONS, Options, build_report
from segwarehouse.dashboard.overview import ALL, overview_data
from segwarehouse.dashboard.sections import (
    PROFILE_COLUMNS,
    Panel,
    render_section,
)
from segwarehouse.dashboard.server import stale_rebuilder
from segwarehouse.dashboard.source import Warehouse

# Sections that have no rows after a single build: migration needs two runs to compare.
SINGLE_BUILD_EMPTY = {"segment_migration": "marts.segment_migration"}
# Sections that show a table and no chart.
TABLE_ONLY = {"publish_status"}


def published_serving_file(built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built warehouse audited and published as `segwarehouse refresh` does (once a session).

    Cached on disk under the session's base temp folder so the browser tests reuse it.
    """
    root = tmp_path_factory.getbasetemp() / "dashboard-serving"
    serving = root / "serving.duckdb"
    if serving.is_file():
        return serving
    root.mkdir(parents=True, exist_ok=True)
    work = root / "work.duckdb"
    shutil.copyfile(built.warehouse, work)
    code, record = publish.refresh(work, serving, None, None, log=lambda _line: None)
    assert code == publish.EXIT_OK, record.failures
    return serving


@pytest.fixture(scope="module")
def serving(built, tmp_path_factory) -> Path:
    return published_serving_file(built, tmp_path_factory)


@pytest.fixture(scope="module")
def panels(serving: Path) -> dict[str, Panel]:
    with Warehouse(serving) as warehouse:
        return {item.key: render_section(item, warehouse, Options()) for item in SECTIONS}


def _read(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


# --- the real marts ---------------------------------------------------------------------------


def test_every_section_renders_or_says_its_mart_is_missing(panels):
    statuses = {key: panel.status for key, panel in panels.items()}
    expected = {item.key: "ok" for item in SECTIONS} | dict.fromkeys(SINGLE_BUILD_EMPTY, "empty")
    assert statuses == expected, {k: p.message for k, p in panels.items() if p.status != "ok"}
    for key, table in SINGLE_BUILD_EMPTY.items():
        assert panels[key].message == f"{table} has no rows in this warehouse"
    for key, panel in panels.items():
        if panel.status == "ok":
            assert len(panel.result.data) > 0, key
            assert key in TABLE_ONLY or panel.result.figure.data, key


def test_segment_sizes_now_match_pandas(panels, serving):
    membership = _read(serving, "select * from marts.segment_membership")
    expected = membership.groupby("segment_id").size()
    data = panels["segment_sizes_now"].result.data.set_index("segment_id")
    assert data["members"].sort_index().to_dict() == expected.sort_index().to_dict()
    primary = membership[membership["is_primary"]].groupby("segment_id").size()
    assert data["primary_members"].reindex(primary.index).to_dict() == primary.to_dict()
    plotted = {
        segment: count
        for trace in panels["segment_sizes_now"].result.figure.data
        for segment, count in zip(trace.y, trace.x, strict=True)
    }
    assert plotted == expected.to_dict()


def test_sizes_over_time_on_one_build_equal_current_membership(panels, serving):
    # The built warehouse has one build: the history's counts are today's membership.
    data = panels["segment_sizes_over_time"].result.data
    assert data["as_of_date"].nunique() == 1
    membership = _read(
        serving, "select segment_id, count(*) as n from marts.segment_membership group by 1"
    )
    assert data.set_index("segment_id")["members"].to_dict() == dict(
        zip(membership["segment_id"], membership["n"], strict=True)
    )


def test_rfm_grid_matches_pandas_crosstab(panels, serving):
    rfm = _read(serving, "select r_score, f_score, net_revenue from marts.customer_rfm")
    buyers = rfm.dropna(subset=["r_score", "f_score"])
    expected = buyers.groupby(["r_score", "f_score"]).agg(
        customers=("net_revenue", "size"), mean_monetary=("net_revenue", "mean")
    )
    data = panels["rfm_grid"].result.data.set_index(["r_score", "f_score"])
    assert data["customers"].to_dict() == expected["customers"].to_dict()
    np.testing.assert_allclose(
        data["mean_monetary"].reindex(expected.index), expected["mean_monetary"], rtol=1e-9
    )
    heatmap = panels["rfm_grid"].result.figure.data[0]
    z = np.asarray(heatmap.z, dtype=float)
    assert np.nansum(z) == len(buyers)
    for (r_score, f_score), row in expected.iterrows():
        assert z[int(r_score) - 1, int(f_score) - 1] == row["customers"]


def test_cluster_personas_index_against_the_member_weighted_mean(panels, serving):
    profiles = _read(serving, "select * from marts.cluster_profiles order by cluster_id")
    clusters = _read(serving, "select cluster_id from marts.customer_clusters")
    figure = panels["cluster_personas"].result.figure
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert len(bars) == len(profiles) >= 2
    for column_number, column in enumerate(PROFILE_COLUMNS):
        overall = np.average(profiles[column], weights=profiles["n_customers"])
        expected = profiles[column] / overall * 100
        np.testing.assert_allclose([bar.y[column_number] for bar in bars], expected, rtol=1e-9)
    assert profiles["n_customers"].sum() == len(clusters)


def test_cluster_scatter_is_a_bounded_seeded_sample_of_real_points(serving, tmp_path):
    small = Options(scatter_sample=500)
    with Warehouse(serving) as warehouse:
        item = next(item for item in SECTIONS if item.key == "cluster_scatter")
        first = render_section(item, warehouse, small).result.data
        again = render_section(item, warehouse, small).result.data
    total = _read(serving, "select count(*) as n from marts.customer_clusters")["n"][0]
    assert len(first) == min(500, total)
    pd.testing.assert_frame_equal(first, again)  # repeatable
    points = _read(serving, "select cluster_id, persona, pca_1, pca_2 from marts.customer_clusters")
    merged = first.merge(points, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_clv_boxes_are_numpy_quantiles_per_segment(panels, serving):
    joined = _read(
        serving,
        "select m.segment_id, c.clv from marts.segment_membership m "
        "join marts.customer_clv c using (customer_key) "
        "where m.segment_family in ('rule', 'rfm', 'lifecycle')",
    )
    data = panels["clv_by_segment"].result.data.set_index("segment_id")
    assert set(data.index) == set(joined["segment_id"])
    for segment_id, rows in joined.groupby("segment_id"):
        low, q1, median, q3, high = np.quantile(rows["clv"], [0.05, 0.25, 0.5, 0.75, 0.95])
        got = data.loc[segment_id]
        assert got["customers"] == len(rows)
        np.testing.assert_allclose(
            got[["whisker_low", "q1", "median", "q3", "whisker_high", "mean_clv"]].astype(float),
            [low, q1, median, q3, high, rows["clv"].mean()],
            rtol=1e-9,
            atol=1e-9,
        )


def test_churn_histogram_matches_numpy(panels, serving):
    scores = _read(
        serving, "select churn_risk_band, churn_probability from marts.customer_churn_scores"
    )
    result = panels["churn_risk"].result
    for band, rows in scores.groupby("churn_risk_band"):
        expected, _edges = np.histogram(rows["churn_probability"], bins=20, range=(0, 1))
        trace = next(trace for trace in result.figure.data if trace.name == band)
        plotted = dict(zip(np.round(np.asarray(trace.x) - 0.025, 6), trace.y, strict=True))
        got = [plotted.get(round(edge, 6), 0) for edge in np.arange(20) / 20]
        assert got == expected.tolist(), band
    table = result.table.set_index("band")
    assert table["buyers"].sum() == len(scores)
    means = scores.groupby("churn_risk_band")["churn_probability"].mean().round(3)
    assert table["mean probability"].to_dict() == means.to_dict()


def test_data_quality_shows_the_last_check_run(panels, serving):
    results = _read(serving, "select * from audit.data_quality_results")
    last = results.loc[results["checked_at"].idxmax(), "run_id"]
    runs = _read(serving, "select run_id, checks_passed from audit.publish_runs")
    data = panels["data_quality"].result.data
    assert set(data["run_id"]) == {last} and len(data) == (results["run_id"] == last).sum()
    assert "all passed" in panels["data_quality"].message
    figure = panels["data_quality"].result.figure
    assert sum(figure.data[0].x) == runs["checks_passed"].iloc[-1] == data["success"].sum()
    published = panels["publish_runs"].result.data
    assert published["run_id"].tolist() == runs["run_id"].tolist()


def test_report_is_one_offline_file_and_leaves_the_warehouse_untouched(serving, tmp_path):
    before = hashlib.sha256(serving.read_bytes()).hexdigest()
    lines: list[str] = []
    report = build_report(serving, tmp_path / "dash", progress=lines.append)
    assert hashlib.sha256(serving.read_bytes()).hexdigest() == before
    page = report.details_path.read_text()
    assert report.path == tmp_path / "dash" / "index.html" and not report.errors
    assert report.details_path == tmp_path / "dash" / "details.html"
    # nothing fetched (plotly.js is inlined); the pages link to each other only
    assert _external_references(page) == ["a index.html"]
    overview = report.path.read_text()
    assert _external_references(overview) == ["a details.html", "a index.html", "a details.html"]
    assert page.count('class="panel"') == len(SECTIONS)
    assert report.overview is not None and report.overview.missing == {}
    assert sum(line.startswith("dashboard: [") for line in lines) == len(SECTIONS)
    # The work of the page is aggregates plus the scatter sample: small even at 1M customers.
    assert report.path.stat().st_size < 8_000_000
    assert report.details_path.stat().st_size < 8_000_000


class _References(HTMLParser):
    """src / href attributes of the document's tags (not strings inside scripts)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"{tag} {value}" for name, value in attrs if name in {"src", "href"}]


def _external_references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return [ref for ref in parser.found if not ref.split(" ", 1)[1].startswith(("#", "data:"))]


# --- hand-made warehouses ------------------------------------------------------------------------


def _history() -> pd.DataFrame:
    """Spells over four builds with entries, exits, a re-entry and a segment that empties."""
    builds = [date(2026, 1, 31) + timedelta(days=28 * i) for i in range(4)]
    rows = []
    rng = np.random.default_rng(3)
    for customer in range(60):
        for segment in ("a", "b", "c"):
            start = int(rng.integers(0, 4))
            end = int(rng.integers(start, 4))
            if segment == "c" and end == 3:
                end = 2  # nobody is in c at the last build
            rows.append(
                (
                    f"cus_{customer}",
                    f"seg_{segment}",
                    "rule",
                    "group_1",
                    builds[start],
                    builds[end + 1] if end + 1 < len(builds) else None,
                    builds[end],
                )
            )
    columns = [
        "customer_key",
        "segment_id",
        "segment_family",
        "exclusivity_group",
        "valid_from",
        "valid_to",
        "last_seen_on",
    ]
    return pd.DataFrame(rows, columns=columns)


def _future_marts() -> dict[str, pd.DataFrame]:
    dates = [date(2026, 5, 31), date(2026, 6, 30)]
    return {
        "segment_health": pd.DataFrame(
            {
                "segment_id": ["seg_a", "seg_a", "seg_b", "seg_b"],
                "segment_family": "rule",
                "segment_name": ["A", "A", "B", "B"],
                "as_of_date": dates * 2,
                "members": [120, 80, 40, 45],
                "alerts": [None, "size_drop_33pct", None, None],
            }
        ),
        "segment_migration": pd.DataFrame(
            {
                "exclusivity_group": ["rfm"] * 4,
                "from_segment_id": ["champions", "champions", "at_risk", "at_risk"],
                "to_segment_id": ["champions", "at_risk", "at_risk", "lost"],
                "customers": [50, 10, 30, 7],
                "as_of_date": [dates[1]] * 4,
            }
        ),
        "campaign_lift": pd.DataFrame(
            {
                "campaign_id": ["cmp_1", "cmp_2"],
                "conversion_rate_treatment": [0.06, 0.03],
                "conversion_rate_control": [0.04, 0.031],
                "conversion_lift_abs": [0.02, -0.001],
                "conversion_lift_ci_low": [0.01, -0.01],
                "conversion_lift_ci_high": [0.03, 0.008],
                "conversion_p_value": [0.001, 0.8],
                "revenue_per_member_treatment": [12.5, None],
                "revenue_per_member_control": [11.0, None],
                "revenue_lift_abs": [1.5, None],
                "revenue_lift_ci_low": [-0.5, None],
                "revenue_lift_ci_high": [3.5, None],
                "revenue_p_value": [0.14, None],
                "as_of_date": [dates[1]] * 2,
            }
        ),
    }


# campaign_lift above as the dashboard shows it: one row per campaign and metric, campaigns
# without a revenue comparison (cmp_2) showing conversion only.
LIFT_ROWS = pd.DataFrame(
    {
        "absolute_lift": [0.02, 1.5, -0.001],
        "ci_low": [0.01, -0.5, -0.01],
        "ci_high": [0.03, 3.5, 0.008],
    }
)


def make_synthetic_warehouse(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A DuckDB file with the given marts.<name> tables."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"create table marts.{name} as select * from frame")
            con.unregister("frame")
    return path


def synthetic_warehouse(tmp_path: Path) -> Path:
    """History over four builds and the three marts other branches are building."""
    tables = {"segment_membership_history": _history(), **_future_marts()}
    return make_synthetic_warehouse(tmp_path / "synthetic.duckdb", tables)


def _panel(path: Path, key: str) -> Panel:
    with Warehouse(path) as warehouse:
        return render_section(next(s for s in SECTIONS if s.key == key), warehouse, Options())


def test_sizes_over_time_count_members_at_every_build(tmp_path):
    history = _history()
    path = make_synthetic_warehouse(tmp_path / "w.duckdb", {"segment_membership_history": history})
    data = _panel(path, "segment_sizes_over_time").result.data
    builds = sorted(set(history["valid_from"]) | set(history["last_seen_on"]))
    expected = {
        (pd.Timestamp(build), segment): int(
            ((rows["valid_from"] <= build) & (build <= rows["last_seen_on"])).sum()
        )
        for build in builds
        for segment, rows in history.groupby("segment_id")
    }
    got = {(pd.Timestamp(row.as_of_date), row.segment_id): row.members for row in data.itertuples()}
    assert got == expected
    assert got[(pd.Timestamp(builds[-1]), "seg_c")] == 0  # an emptied segment drops to zero


def test_future_marts_render_when_they_exist(tmp_path):
    path = synthetic_warehouse(tmp_path)
    marts = _future_marts()

    health = _panel(path, "segment_health")
    assert health.status == "ok", health.message
    alert = next(trace for trace in health.result.figure.data if trace.name == "alert")
    assert list(alert.y) == [80] and "size_drop_33pct" in alert.text[0]
    assert health.result.table["segment_id"].tolist() == ["seg_a"]

    migration = _panel(path, "segment_migration")
    assert migration.status == "ok", migration.message
    sankey = migration.result.figure.data[0]
    assert sum(sankey.link.value) == marts["segment_migration"]["customers"].sum()
    assert "rfm: champions (before)" in sankey.node.label
    assert "rfm: lost (after)" in sankey.node.label

    lift = _panel(path, "campaign_lift")
    assert lift.status == "ok", lift.message
    conversion, revenue = lift.result.figure.data
    assert (conversion.name, revenue.name) == ("conversion rate", "revenue per member")
    assert conversion.xaxis != revenue.xaxis  # ~0.02 and ~2 on separate axes
    for trace, rows in ((conversion, [0, 2]), (revenue, [1])):
        expected = LIFT_ROWS.iloc[rows]
        np.testing.assert_allclose(np.asarray(trace.x), expected["absolute_lift"])
        np.testing.assert_allclose(
            np.asarray(trace.x) + np.asarray(trace.error_x.array), expected["ci_high"]
        )
        np.testing.assert_allclose(
            np.asarray(trace.x) - np.asarray(trace.error_x.arrayminus), expected["ci_low"]
        )


def test_missing_empty_and_broken_marts_get_their_own_panels(tmp_path):
    broken = _future_marts()
    broken["segment_health"] = broken["segment_health"].drop(columns="alerts")
    broken["campaign_lift"] = broken["campaign_lift"].iloc[0:0]
    path = make_synthetic_warehouse(tmp_path / "w.duckdb", broken)
    report = build_report(path, tmp_path / "dash")
    statuses = {panel.key: panel.status for panel in report.panels}
    assert statuses["publish_status"] == "empty"  # no audit.publish_runs, no run log
    assert statuses["segment_health"] == "error"
    assert "alerts" in next(p for p in report.panels if p.key == "segment_health").message
    assert statuses["campaign_lift"] == "empty"
    assert statuses["segment_migration"] == "ok"
    assert statuses["rfm_grid"] == "missing"
    page = report.details_path.read_text()
    assert (
        '<div class="unavailable">not available in this warehouse: marts.customer_rfm missing</div>'
    ) in page
    assert report.overview.missing["kpis"] == (
        "not available in this warehouse: marts.segment_health_runs, "
        "marts.segment_membership_history, marts.fct_orders missing"
    )
    assert (
        "not available in this warehouse: marts.customer_clv, marts.segment_membership missing"
        in page
    )
    assert page.count('class="error-box"') == 1


def test_cli_build_exit_codes_and_progress(tmp_path, capsys):
    path = synthetic_warehouse(tmp_path)
    out = tmp_path / "dash"
    assert cli.main(["dashboard", "build", "--warehouse", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert (out / "index.html").is_file()
    assert f"dashboard: [1/{len(SECTIONS)}]" in captured.err
    assert "  segment_health:" not in captured.out  # ok sections are not listed as problems
    assert "overview kpis: missing: not available" in captured.out
    assert "rfm_grid: missing: not available in this warehouse" in captured.out

    broken = _future_marts()
    broken["segment_health"] = broken["segment_health"].drop(columns="members")
    bad = make_synthetic_warehouse(tmp_path / "bad.duckdb", broken)
    assert cli.main(["dashboard", "build", "--warehouse", str(bad), "--out", str(out)]) == 1
    assert "segment_health: error" in capsys.readouterr().out

    missing = tmp_path / "nowhere.duckdb"
    assert cli.main(["dashboard", "build", "--warehouse", str(missing)]) == 2
    assert "no warehouse at" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["dashboard"], ["dashboard", "build"], ["dashboard", "serve"]])
def test_help_has_examples(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and "segwarehouse dashboard" in out


def test_server_rebuilds_only_when_the_warehouse_is_newer_than_the_page(tmp_path):
    warehouse = synthetic_warehouse(tmp_path)
    out = tmp_path / "site"
    calls: list[int] = []

    def rebuild() -> None:
        calls.append(1)
        build_report(warehouse, out)

    refresh = stale_rebuilder(warehouse, out, rebuild)
    refresh()  # no page yet
    refresh()  # page newer than the warehouse
    assert len(calls) == 1
    later = (out / "index.html").stat().st_mtime + 10
    os.utime(warehouse, (later, later))  # a refresh swapped the file in
    refresh()
    assert len(calls) == 2


_HOLD_WRITE_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_a_locked_warehouse_is_a_clear_error(tmp_path, capsys):
    path = synthetic_warehouse(tmp_path)
    writer = subprocess.Popen(  # another process writing the file, as a dbt build does
        [sys.executable, "-c", _HOLD_WRITE_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        code = cli.main(["dashboard", "build", "--warehouse", str(path), "--out", str(tmp_path)])
    finally:
        writer.kill()
        writer.wait()
    assert code == 2
    assert f"cannot read {path}" in capsys.readouterr().err


# --- the first page (overview) ------------------------------------------------------------------


def expected_kpis(serving: Path) -> dict:
    """The KPI tiles computed independently with pandas from the marts: everyone, and the
    largest rule segment (its current members)."""
    orders = _read(serving, "select * from marts.fct_orders where is_completed")
    as_of = _read(serving, "select max(as_of_date) as d from marts.customer_features")["d"][0]
    as_of = pd.Timestamp(as_of)
    dates = pd.to_datetime(orders["order_date"])
    window = orders[(dates > as_of - pd.Timedelta(days=90)) & (dates <= as_of)]
    clv = _read(serving, "select customer_key, clv from marts.customer_clv")
    churn = _read(
        serving, "select customer_key, churn_probability from marts.customer_churn_scores"
    )
    membership = _read(
        serving, "select customer_key, segment_id, segment_family from marts.segment_membership"
    )
    rule = membership[membership["segment_family"] == "rule"]
    counts = rule.groupby("segment_id").size().reset_index(name="n")
    segment_id = counts.sort_values(["n", "segment_id"], ascending=[False, True])[
        "segment_id"
    ].iloc[0]
    members = set(membership.loc[membership["segment_id"] == segment_id, "customer_key"])

    def figures(keys: set[str] | None) -> dict[str, float]:
        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            return frame if keys is None else frame[frame["customer_key"].isin(keys)]

        customers = (
            len(_read(serving, "select customer_key from marts.dim_customers"))
            if keys is None
            else len(keys)
        )
        return {
            "customers": customers,
            "active_buyers": pick(window)["customer_key"].nunique(),
            "revenue_90d": float(pick(window)["order_total"].astype(float).sum()),
            "mean_clv": float(pick(clv)["clv"].mean()),
            "mean_churn_probability": float(pick(churn)["churn_probability"].mean()),
        }

    return {
        "all": figures(None),
        "all_revenue": float(orders["order_total"].astype(float).sum()),
        "segment_id": segment_id,
        "segment": figures(members),
        "segment_revenue": float(
            orders.loc[orders["customer_key"].isin(members), "order_total"].astype(float).sum()
        ),
    }


def test_overview_kpis_match_pandas(serving):
    expected = expected_kpis(serving)
    with Warehouse(serving) as warehouse:
        data = overview_data(warehouse)
    assert data.missing == {}
    kpis = data.frames["kpis"].set_index("segment_id")
    for key, value in expected["all"].items():
        assert kpis.loc[ALL, key] == pytest.approx(value, rel=1e-9), key
    for key, value in expected["segment"].items():
        assert kpis.loc[expected["segment_id"], key] == pytest.approx(value, rel=1e-9), key
    weekly = data.frames["revenue_weekly"]
    assert weekly.loc[weekly["segment_id"] == ALL, "revenue"].sum() == pytest.approx(
        expected["all_revenue"], rel=1e-9
    )
    funnel = data.frames["funnel"]
    summary = _read(serving, "select * from marts.audience_summary")
    assert funnel["exported_count"].sum() == summary["exported_count"].sum()
    assert (
        funnel["member_count"]
        - funnel["control_count"]
        - funnel["no_consent_count"]
        - funnel["erased_count"]
        - funnel["no_contact_count"]
        == funnel["exported_count"]
    ).all()  # the funnel's stages add up to what was exported
    actions = data.frames["next_best_action"]
    nba = _read(
        serving,
        "select coalesce(action, 'no action') as action, count(*) as n, "
        "count(*) filter (where decision_reason <> 'best_match' "
        "and decision_reason <> 'fallback_no_match') as moved "
        "from marts.customer_next_best_action group by 1",
    )
    everyone = actions[actions["segment_id"] == ALL].groupby("action")
    assert everyone["customers"].sum().to_dict() == dict(zip(nba["action"], nba["n"], strict=True))
    assert everyone["moved_by_consent"].sum().to_dict() == dict(
        zip(nba["action"], nba["moved"], strict=True)
    )


def two_run_warehouse(tmp_path: Path) -> tuple[Path, dict[str, tuple[float, float]]]:
    """Hand-made marts of two runs (2026-05-31, 2026-06-30) and the tiles they should give:
    key -> (now, previous run)."""
    runs = [date(2026, 5, 31), date(2026, 6, 30)]
    spells = (
        [(f"c{i}", "lifecycle_active", runs[0]) for i in range(60)]
        + [(f"c{i}", "lifecycle_churned", runs[0]) for i in range(60, 100)]
        + [(f"c{i}", "lifecycle_active", runs[1]) for i in range(100, 120)]
    )
    history = pd.DataFrame(
        {
            "customer_key": [key for key, _s, _d in spells],
            "segment_id": [segment for _k, segment, _d in spells],
            "segment_family": "lifecycle",
            "exclusivity_group": "lifecycle",
            "valid_from": [start for _k, _s, start in spells],
            "valid_to": None,
            "last_seen_on": runs[1],
        }
    )
    health = pd.DataFrame(
        {
            "segment_id": ["lifecycle_active", "lifecycle_churned"] * 2,
            "segment_family": "lifecycle",
            "segment_name": ["Active", "Churned"] * 2,
            "members": [60, 40, 80, 40],
            "mean_clv": [100.0, 10.0, 120.0, 5.0],
            "mean_churn_probability": [0.2, 0.9, 0.25, 0.95],
            "as_of_date": [runs[0], runs[0], runs[1], runs[1]],
        }
    )
    health_runs = pd.DataFrame(
        {"as_of_date": runs, "previous_as_of_date": [None, runs[0]], "customers": [100, 120]}
    )
    orders = pd.DataFrame(
        {
            "customer_key": ["c0", "c1", "c100", "c2", "c3"],
            "order_date": [
                date(2026, 5, 1),
                date(2026, 3, 15),
                date(2026, 6, 20),
                date(2026, 6, 1),
                date(2026, 6, 10),
            ],
            "is_completed": [True, True, True, False, True],
            "order_total": [50.0, 30.0, 70.0, 999.0, 10.0],
        }
    )
    membership = history[["customer_key", "segment_id", "segment_family"]]
    path = make_synthetic_warehouse(
        tmp_path / "two_runs.duckdb",
        {
            "segment_membership_history": history,
            "segment_health": health,
            "segment_health_runs": health_runs,
            "fct_orders": orders,
            "segment_membership": membership,
        },
    )
    expected = {
        "customers": (120, 100),
        "active_buyers": (3, 2),  # c0, c100, c3 / c0, c1 (c2's order was cancelled)
        "revenue_90d": (130.0, 80.0),
        "mean_clv": ((80 * 120 + 40 * 5) / 120, (60 * 100 + 40 * 10) / 100),
        "mean_churn_probability": ((80 * 0.25 + 40 * 0.95) / 120, (60 * 0.2 + 40 * 0.9) / 100),
    }
    return path, expected


def test_kpis_of_two_runs_against_hand_computed_values(tmp_path):
    path, expected = two_run_warehouse(tmp_path)
    with Warehouse(path) as warehouse:
        data = overview_data(warehouse)
    kpis = data.frames["kpis"]
    everyone = kpis[kpis["segment_id"] == ALL].set_index("as_of_date")
    for key, (now, before) in expected.items():
        assert everyone[key].tolist() == pytest.approx([before, now]), key
    active = kpis[kpis["segment_id"] == "lifecycle_active"].set_index("as_of_date")
    assert active["customers"].tolist() == [60, 80]
    assert active["active_buyers"].tolist() == [2, 3]  # c0, c1 / c0, c100, c3
    assert set(data.missing) == {"funnel", "next_best_action", "experiments", "holdout_experiments"}


def test_publish_status_shows_the_last_publish_and_the_last_failure(tmp_path):
    path = make_synthetic_warehouse(tmp_path / "serving.duckdb", {})
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema audit; create table audit.publish_runs as select 'p1' as run_id, "
            "'2026-06-30' as as_of_date, '2026-07-01T02:00:00' as finished_at, "
            "93 as checks_passed, 0 as checks_failed"
        )
    attempts = [
        {"run_id": "f1", "status": "failed_audit", "finished_at": "2026-07-01T01:00:00",
         "failures": ["volume: a"]},
        {"run_id": "p1", "status": "published", "finished_at": "2026-07-01T02:00:00",
         "failures": []},
        {"run_id": "f2", "status": "stale", "finished_at": "2026-07-02T02:00:00",
         "failures": ["freshness: commerce.orders (required) is 2d 1h old", "b", "c", "d"]},
    ]  # fmt: skip
    log = path.with_name("serving.duckdb.runs.jsonl")
    log.write_text("\n".join(json.dumps(item) for item in attempts) + "\nnot json\n")
    panel = _panel(path, "publish_status")
    assert panel.status == "ok", panel.message
    table = panel.result.table.set_index("what")
    assert table.loc["last successful publish", "run_id"] == "p1"
    assert table.loc["last failure", "run_id"] == "f2"
    assert table.loc["last failure", "status"] == "stale"
    assert table.loc["last failure", "detail"] == (
        "freshness: commerce.orders (required) is 2d 1h old; b; c (+1 more)"
    )
    assert panel.message == "1 unreadable line(s) in serving.duckdb.runs.jsonl"
