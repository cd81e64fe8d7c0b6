"""The benchmark harness end to end at a tiny scale: report, JSON and sane figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import END_DATE, PROJECT_DIR, Workspace
from segwarehouse.bench.config import DEFAULT_SELECT, MUST_MATCH, ScaleDirs
from segwarehouse.bench.measure import measure
from segwarehouse.bench.preamble import DEFAULT_PREAMBLE, REPORT_MARKER, read_preamble
from segwarehouse.bench.report import render_audit_publish
from segwarehouse.bench.results import failure_summary, read_log
from segwarehouse.bench.run import ratios, within_floor_scope
from segwarehouse.bench.steps import (
    measure_audit_publish,
    measure_quality_gate,
    quality_share,
    selection_args,
)
from segwarehouse.cli import main
from segwarehouse.landing import INCREMENTAL_BASE_MODELS

CUSTOMERS = 1_000


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, dbt_project: Path) -> Path:
    """One `segwarehouse bench` run at 1,000 customers into a temporary folder."""
    root = tmp_path_factory.mktemp("bench")
    exit_code = main(
        [
            "bench",
            "--customers",
            str(CUSTOMERS),
            "--work-dir",
            str(root / "work"),
            "--report",
            str(root / "benchmarks.md"),
            "--json",
            str(root / "benchmarks.json"),
            "--memory-limit",
            "2GB",
            "--refresh-day",
        ]
    )
    assert exit_code == 0, (root / "work" / f"c{CUSTOMERS}" / "dbt_build.log").read_text()
    return root


def test_json_has_sane_figures(bench_run: Path) -> None:
    data = json.loads((bench_run / "benchmarks.json").read_text())
    assert data["machine"]["nproc"] >= 1
    assert data["settings"]["memory_limit"] == "2GB"
    [scale] = data["scales"]
    assert scale["customers"] == CUSTOMERS
    assert scale["generator"]["seconds"] > 0
    assert scale["generator"]["total_rows"] > 0
    assert all(rows > 0 for rows in scale["generator"]["rows"].values())
    for side in ("dbt", "baseline"):
        assert scale[side]["success"], scale[side].get("error")
        assert scale[side]["seconds"] > 0
        assert scale[side]["peak_rss_bytes"] > 10 * 1024**2
    assert scale["dbt"]["execution_seconds"] > 0
    assert scale["baseline"]["sql_seconds"] > 0
    assert scale["ratios"]["wall"] > 0
    assert scale["ratios"]["execution"] > 0
    assert scale["ratios"]["dbt_rows_per_second"] > 0


def test_dbt_reports_per_model_times(bench_run: Path) -> None:
    [scale] = json.loads((bench_run / "benchmarks.json").read_text())["scales"]
    models = {node["name"] for node in scale["dbt"]["nodes"] if node["resource_type"] == "model"}
    assert {"base_commerce__orders", "base_web__events", "quarantined_rows"} <= models
    assert not scale["dbt"]["failed_nodes"]


def test_one_day_refresh_is_timed_and_equals_the_full_build(bench_run: Path) -> None:
    """The daily job: the last day's delivery lands in folders, the incremental base models
    take only it, and the staged rows equal those of the full build on single files."""
    [scale] = json.loads((bench_run / "benchmarks.json").read_text())["scales"]
    refresh = scale["refresh"]
    assert refresh["success"], refresh.get("error")
    assert refresh["seconds"] > 0 and refresh["setup_seconds"] > 0
    assert refresh["parse_seconds"] > 0
    assert refresh["delivery_rows"]["web_events"] > 0
    assert refresh["delivery_rows"]["orders"] > 0
    assert refresh["history_rows"]["web_events"] > 10 * refresh["delivery_rows"]["web_events"]
    assert set(refresh["incremental_models"]) == set(INCREMENTAL_BASE_MODELS)
    assert refresh["staged_rows_equal_full_build"], (refresh["staged_rows"], scale["dbt"]["counts"])
    assert refresh["ratio_to_full_build"] > 0
    assert "One-day refresh" in (bench_run / "benchmarks.md").read_text()


def test_baseline_stages_the_same_rows(bench_run: Path) -> None:
    [scale] = json.loads((bench_run / "benchmarks.json").read_text())["scales"]
    counts = scale["row_counts"]
    assert len(counts) == 8
    for source in MUST_MATCH:
        assert counts[source]["dbt_staged"] > 0
        assert counts[source]["dbt_staged"] == counts[source]["baseline_staged"], source
        assert counts[source]["match"]


def test_report_is_written_below_the_preamble(bench_run: Path) -> None:
    report = (bench_run / "benchmarks.md").read_text()
    assert report.startswith("# Benchmarks")
    assert REPORT_MARKER in report
    for heading in ("## Summary", f"## {CUSTOMERS:,} customers", "Slowest 10 models", "## Notes"):
        assert heading in report
    assert "base_web__events" in report


def test_preamble_is_preserved(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Mine\n\nHand-written.\n\n" + REPORT_MARKER + "\n\nold figures\n")
    assert read_preamble(report) == "# Mine\n\nHand-written.\n"
    assert read_preamble(tmp_path / "absent.md") == DEFAULT_PREAMBLE


def test_default_preamble_names_the_results_folder() -> None:
    """`make bench` writes its JSON to benchmarks/results/, and the default text says so."""
    mentions = re.findall(r"[\w/.]*benchmarks\.json", DEFAULT_PREAMBLE)
    assert mentions
    assert set(mentions) == {"benchmarks/results/benchmarks.json"}


def test_baseline_child_runs_as_a_module(tmp_path: Path) -> None:
    """`python -m segwarehouse.bench` is the baseline child the harness spawns."""
    done = subprocess.run(
        [sys.executable, "-m", "segwarehouse.bench", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "staging_baseline.sql" in done.stdout


def test_peak_rss_is_the_measured_process_own(tmp_path: Path) -> None:
    """A big earlier child must not leak into a later, small measurement."""
    allocate = "x = bytearray(300 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    big = measure([sys.executable, "-c", allocate], os.environ, tmp_path, tmp_path / "big.log")
    small = measure([sys.executable, "-c", "pass"], os.environ, tmp_path, tmp_path / "small.log")
    assert big.peak_rss_bytes > 300 * 1024**2
    assert small.peak_rss_bytes < 100 * 1024**2
    assert big.returncode == small.returncode == 0


# dbt's console output of a build that crashed (colour codes written as ~).
FAILED_LOG = """~17:47:12  1 of 1 OK hook: segments.on-run-start.0 ... [~OK~ in 0.13s]
~17:48:17  2 of 9 OK created sql table model staging.base_a ... [~OK~ in 65.17s]
~17:48:17  ~Unhandled error while executing ~
Not implemented Error: Cannot switch temporary directory after the current one has been used
~17:48:17  6 of 9 ERROR loading seed file reference.countries ... [~ERROR~ in 0.04s]
~17:48:18  7 of 9 PASS not_null_base_a_id ... [~PASS~ in 0.02s]
~17:52:28  5 of 9 OK created sql table model staging.base_b ... [~OK~ in 309.41s]
~17:52:28  Encountered an error:
Not implemented Error: Cannot switch temporary directory after the current one has been used
""".replace("~", "\x1b[0m")


def test_a_crashed_build_is_read_from_its_log(tmp_path: Path) -> None:
    """dbt can die without run_results.json: times and the error come from its console log."""
    log = tmp_path / "dbt_build.log"
    log.write_text(FAILED_LOG)
    read = read_log(log)
    assert [node["name"] for node in read["nodes"][:2]] == ["base_b", "base_a"]
    assert {node["resource_type"] for node in read["nodes"]} == {
        "model",
        "seed",
        "test",
        "operation",
    }
    assert read["failed_nodes"] == [
        {"unique_id": "seed.countries", "status": "error", "message": None}
    ]
    summary = failure_summary(log, read["failed_nodes"])
    assert summary.startswith("2 x Not implemented Error: Cannot switch temporary directory")
    assert summary.endswith("(first failed node: seed.countries)")


def _nodes(**seconds: float) -> list[dict]:
    return [
        {"unique_id": f"{kind}.x{i}", "resource_type": kind, "seconds": value}
        for i, (kind, value) in enumerate(seconds.items())
    ]


def test_quality_share_counts_dbt_tests_and_the_gate() -> None:
    nodes = _nodes(model=80.0, test=15.0, unit_test=5.0)
    gate = {"ran": True, "seconds": 20.0, "outcome": "passed", "failures": []}
    share = quality_share(nodes, gate)
    assert share["dbt_test_seconds"] == 20.0
    assert share["node_seconds"] == 100.0
    assert share["share"] == round(40 / 120, 4)
    crashed = {**gate, "ran": False, "outcome": "error (exit 1)"}
    assert quality_share(nodes, crashed)["share"] is None


def test_quality_gate_is_timed_and_tells_a_failure(built: Workspace, tmp_path: Path) -> None:
    """The harness times the real GX gate: it passes on the built warehouse and reports the
    failing expectation when a mart is broken (an open rate above 1)."""
    env = {**os.environ, "SEGMENTS_RAW_DIR": str(built.raw_dir)}
    passed = measure_quality_gate(built.warehouse, env, PROJECT_DIR, tmp_path / "ok.log")
    assert passed["outcome"] == "passed", (tmp_path / "ok.log").read_text()
    assert passed["ran"] and passed["seconds"] > 0 and passed["failures"] == []

    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(built.warehouse, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(
            "update marts.customer_features set email_open_rate = 2.0 where customer_key = "
            "(select min(customer_key) from marts.customer_features)"
        )
    failed = measure_quality_gate(broken, env, PROJECT_DIR, tmp_path / "broken.log")
    assert failed["outcome"] == "expectations failed"
    assert failed["ran"] and any("email_open_rate" in line for line in failed["failures"])


def test_audit_publish_is_timed_and_publishes_only_a_passing_warehouse(
    built: Workspace, tmp_path: Path
) -> None:
    """The refresh's last step is the scheduled job's own: `segwarehouse refresh --skip-build`
    publishes a warehouse that passes its audit into the scale's serving file, and leaves no
    serving file when a mart breaks an expectation; the next run's reset removes it."""
    env = {**os.environ, "SEGMENTS_RAW_DIR": str(built.raw_dir)}
    good = ScaleDirs(tmp_path / "good")
    good.reset()
    shutil.copyfile(built.warehouse, good.warehouse)
    passed = measure_audit_publish(good, env, PROJECT_DIR, END_DATE)
    assert passed["outcome"] == "published", (good.root / "audit_publish.log").read_text()
    assert passed["seconds"] > 0 and passed["serving_bytes"] > 0
    assert (good.root / "data_docs" / "index.html").is_file()  # --docs-dir, not target/
    count = "select count(*) from marts.segment_membership"
    with duckdb.connect(str(good.warehouse), read_only=True) as con:
        [(work_rows,)] = con.execute(count).fetchall()
    with duckdb.connect(str(good.serving), read_only=True) as con:
        assert con.execute(count).fetchall() == [(work_rows,)]
    report = render_audit_publish({"audit_publish": passed, "job_seconds": 12.5})
    assert "(published)" in report[-1] and "12.5 s" in report[-1]

    broken = ScaleDirs(tmp_path / "broken")
    broken.reset()
    shutil.copyfile(built.warehouse, broken.warehouse)
    with duckdb.connect(str(broken.warehouse)) as con:
        con.execute(
            "update marts.customer_features set email_open_rate = 2.0 where customer_key = "
            "(select min(customer_key) from marts.customer_features)"
        )
    failed = measure_audit_publish(broken, env, PROJECT_DIR, END_DATE)
    assert (failed["outcome"], failed["published"]) == ("audit failed", False)
    assert failed["serving_bytes"] is None and not broken.serving.exists()

    good.reset()
    assert not good.serving.exists()
    assert not good.serving.with_name("serving.duckdb.runs.jsonl").exists()


def test_ratios_compare_only_the_floors_scope() -> None:
    """dbt / baseline only when dbt builds what the staging floor builds: a whole-project
    build over the staging-only floor would read as dbt overhead."""
    dbt = {"success": True, "seconds": 10.0, "execution_seconds": 8.0, "peak_rss_bytes": 2e9}
    baseline = {"success": True, "seconds": 5.0, "sql_seconds": 4.0, "peak_rss_bytes": 1e9}
    staging = ratios(dbt, baseline, 100, within_floor_scope(tuple(DEFAULT_SELECT.split())))
    assert (staging["wall"], staging["execution"], staging["peak_rss"]) == (2.0, 2.0, 2.0)
    whole = ratios(dbt, baseline, 100, within_floor_scope(("fqn:*",)))
    assert (whole["wall"], whole["execution"], whole["peak_rss"]) == (None, None, None)
    assert whole["same_scope"] is False
    assert whole["dbt_rows_per_second"] == staging["dbt_rows_per_second"] > 0


def test_default_selection_is_the_staging_selector() -> None:
    """bench builds selectors.yml's `staging` (dbt 1.11 has no `selector:` method in
    --select); any other selection goes to --select as typed."""
    assert selection_args(tuple(DEFAULT_SELECT.split())) == ["--selector", "staging"]
    assert selection_args(("+staging", "marts.data_quality")) == [
        "--select",
        "+staging",
        "marts.data_quality",
    ]
