"""`segwarehouse doctor`: what it says about a landing folder before any build.

Each case runs doctor (a throw-away staging build) once on a generated or a hand-written tiny
landing folder and asserts the specific report line or field, not only the exit code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import BUILD_VARS, PROJECT_DIR
from segwarehouse.doctor import (
    NO_HINT,
    VERDICT_FAIL,
    VERDICT_OK,
    VERDICT_WARNINGS,
    DbtCall,
    DoctorReport,
    diagnose,
    file_columns,
    landing_paths,
    reason_hint,
    reason_hints,
    render_text,
)
from shapes import CRM_HEADER, ORDERS_HEADER

VALID_CRM = (
    "C1,a@b.com,555-123-4567,Ann,Lee,1980-01-01,F,1 Main St,Springfield,IL,62701,US,L1,"
    "webshop,2024-01-01 00:00:00,2024-01-01 00:00:00"
)
# Pinned to the default the 1990s case is about, so the case keeps testing the hint when the
# project's default changes.
EARLIEST_2000 = {**BUILD_VARS, "segments__earliest_plausible_date": "2000-01-01"}


def write(path: Path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def order(order_id: str, ts: str = "2025-05-01 10:00:00", currency: str = "USD") -> str:
    return f"{order_id},C1,,,,{ts},web,completed,{currency},10.00,0"


def source(report: DoctorReport, name: str):
    return next(item for item in report.sources if item.name == name)


def lines_with(report: DoctorReport, *fragments: str) -> list[str]:
    return [line for line in render_text(report) if all(f in line for f in fragments)]


# --- a generated folder: ok -------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_report(generated: Path, dbt_project: Path) -> DoctorReport:
    return diagnose(generated / "raw", PROJECT_DIR, BUILD_VARS)


def test_generated_folder_is_ok(generated: Path, generated_report: DoctorReport) -> None:
    report = generated_report
    assert report.build_succeeded, report.build_errors
    assert report.verdict == VERDICT_OK and report.exit_code == 0, report.findings
    assert render_text(report)[-1].startswith("verdict: ok (0 failure(s), 0 warning(s))")
    assert all(item.found for item in report.sources)
    # Row counts are the files' own line counts; every row has a disposition.
    orders_csv = pd.read_csv(generated / "raw" / "orders.csv", dtype=str, keep_default_na=False)
    orders = source(report, "orders")
    assert orders.raw_rows == len(orders_csv)
    assert sum(orders.dispositions.values()) == len(orders_csv)
    assert sum(orders.reasons.values()) == orders.dispositions["quarantined"]
    assert [p.column for p in orders.profiles if p.kind == "timestamp"] == ["order_ts"]
    assert lines_with(report, "date range of order_ts:")


def test_generated_folder_settings_match_the_files(
    generated: Path, generated_report: DoctorReport
) -> None:
    """Currencies found vs the seed and the latest order, checked against the files."""
    settings = generated_report.settings
    orders = pd.read_csv(generated / "raw" / "orders.csv", dtype=str, keep_default_na=False)
    rates = pd.read_csv(PROJECT_DIR / "seeds" / "reference" / "currency_rates.csv", dtype=str)
    codes = orders["currency"].str.strip().str.upper().replace("", "USD")
    unknown = codes[~codes.isin(rates["currency_code"])].value_counts().to_dict()
    assert unknown and settings["unknown_currencies"] == unknown
    assert settings["latest_order_date"] == BUILD_VARS["as_of_date"]
    assert settings["as_of_date"] == BUILD_VARS["as_of_date"]
    assert settings["unknown_statuses"] == {}


# --- hand-written folders -----------------------------------------------------------------------


@pytest.mark.usefixtures("dbt_project")
def test_missing_required_file(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "crm_customers.csv", CRM_HEADER, VALID_CRM)
    report = diagnose(tmp_path / "raw", PROJECT_DIR, BUILD_VARS)
    assert not source(report, "orders").found
    assert report.verdict == VERDICT_FAIL and report.exit_code == 1
    assert lines_with(report, "orders (required): MISSING: the build stops")
    assert lines_with(report, "FAIL: orders: required file missing")
    # The build's own message, quoted.
    assert lines_with(report, "FAIL: dbt build stops:", "required file 'orders' not found")
    # What could be read still is: the CRM file was registered before the hook stopped.
    assert source(report, "crm_customers").raw_rows == 1
    assert lines_with(report, "web_events (optional): absent (read as empty)")


@pytest.mark.usefixtures("dbt_project")
def test_a_second_run_starts_from_the_saved_parse_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Doctor keeps dbt's parse state per set of vars: the second run on the same settings
    parses only what changed (dbt says nothing of a full parse) and reports the same."""
    write(tmp_path / "raw" / "crm_customers.csv", CRM_HEADER, VALID_CRM)
    outputs: list[str] = []
    run = DbtCall.run

    def recorded(call: DbtCall, *args: str) -> subprocess.CompletedProcess[str]:
        completed = run(call, *args)
        outputs.append(completed.stdout + completed.stderr)
        return completed

    monkeypatch.setattr(DbtCall, "run", recorded)
    own_vars = {**BUILD_VARS, "doctor_parse_probe": str(tmp_path)}  # no state saved yet
    first = diagnose(tmp_path / "raw", PROJECT_DIR, own_vars)
    assert "Unable to do partial parsing because saved manifest not found" in outputs[0]
    second = diagnose(tmp_path / "raw", PROJECT_DIR, own_vars)
    build_output = outputs[len(outputs) // 2]
    assert "Running with dbt" in build_output
    assert "Unable to do partial parsing" not in build_output
    assert second.findings == first.findings and second.sources == first.sources


@pytest.mark.usefixtures("dbt_project")
def test_missing_required_column(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "crm_customers.csv", CRM_HEADER, VALID_CRM)
    write(tmp_path / "raw" / "orders.csv", "order_id,customer_id,status,order_total", "O1,C1,x,1")
    report = diagnose(tmp_path / "raw", PROJECT_DIR, BUILD_VARS)
    orders = source(report, "orders")
    assert orders.missing_required_columns == ["order_ts"]
    assert report.exit_code == 1
    assert lines_with(report, "orders: required column(s) missing: order_ts")
    assert lines_with(report, "columns: 4 of 11 contract columns; MISSING REQUIRED: order_ts")
    assert lines_with(report, "dbt build stops:", "orders.csv has no column 'order_ts'")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good orders, three from the 1990s, two with US-style dates, two in an unknown
    currency."""
    raw = tmp_path_factory.mktemp("messy") / "raw"
    write(raw / "crm_customers.csv", CRM_HEADER, VALID_CRM)
    write(
        raw / "orders.csv",
        ORDERS_HEADER,
        order("O1"),
        order("O2"),
        order("OLD1", "1995-03-01 10:00:00"),
        order("OLD2", "1996-07-01 10:00:00"),
        order("OLD3", "1999-12-31 23:00:00"),
        order("US1", "03/01/2025 10:00"),
        order("US2", "12/24/2025"),
        order("CUR1", currency="XYZ"),
        order("CUR2", currency="xyz"),
    )
    return raw


@pytest.fixture(scope="module")
def messy_report(messy: Path, dbt_project: Path) -> DoctorReport:
    return diagnose(messy, PROJECT_DIR, EARLIEST_2000)


def test_1990s_dates_name_the_var(messy_report: DoctorReport) -> None:
    orders = source(messy_report, "orders")
    assert orders.reasons["implausibly_old_timestamp"] == 3
    assert lines_with(
        messy_report,
        "quarantined implausibly_old_timestamp: 3 ->",
        "set it, e.g. --vars '{segments__earliest_plausible_date:",
    )
    assert lines_with(
        messy_report,
        "segments__earliest_plausible_date: 2000-01-01; earliest timestamp found 1995-03-01",
        "(orders.order_ts); rows before it (implausibly_old_timestamp): 3",
    )
    # 7 of 9 orders quarantined: a required source over its limit fails the build.
    assert messy_report.verdict == VERDICT_FAIL
    assert lines_with(messy_report, "FAIL: orders quarantine rate 77.78% (7 of 9 raw rows)")


@pytest.mark.usefixtures("dbt_project")
def test_1990s_dates_pass_once_the_var_is_set(messy: Path) -> None:
    report = diagnose(
        messy, PROJECT_DIR, {**BUILD_VARS, "segments__earliest_plausible_date": "1990-01-01"}
    )
    orders = source(report, "orders")
    assert "implausibly_old_timestamp" not in orders.reasons
    assert orders.dispositions["staged"] == 5
    assert report.settings["rows_before_earliest_plausible_date"] == 0


def test_non_iso_dates(messy_report: DoctorReport) -> None:
    orders = source(messy_report, "orders")
    order_ts = next(p for p in orders.profiles if p.column == "order_ts")
    assert (order_ts.failed, order_ts.present) == (2, 9)
    assert orders.reasons["unparseable_order_ts"] == 2
    assert lines_with(messy_report, "warning: orders.order_ts: 2 of 9 values (22.2%)")
    assert lines_with(messy_report, "quarantined unparseable_order_ts: 2 ->", "ISO 8601")


def test_unknown_currency(messy_report: DoctorReport) -> None:
    assert messy_report.settings["unknown_currencies"] == {"XYZ": 2}
    assert source(messy_report, "orders").reasons["unknown_currency"] == 2
    assert lines_with(
        messy_report,
        "warning: currencies not in seeds/reference/currency_rates.csv: XYZ (2)",
    )
    assert lines_with(messy_report, "not in seeds/reference/currency_rates.csv: XYZ 2")


@pytest.mark.usefixtures("dbt_project")
def test_ids_only_crm_file_by_the_command_line(tmp_path: Path) -> None:
    """Only customer_id in the CRM file: builds, with a warning listing the absent columns;
    `--json` carries the same findings."""
    raw = tmp_path / "raw"
    write(raw / "crm_customers.csv", "customer_id", "C1", "C2")
    write(raw / "orders.csv", ORDERS_HEADER, order("O1"))
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "segwarehouse"),
            "doctor",
            "--raw-dir",
            str(raw),
            "--json",
            "--vars",
            json.dumps(BUILD_VARS),
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "SEGMENTS_RAW_DIR": "/nonexistent"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    assert data["verdict"] == VERDICT_WARNINGS and data["exit_code"] == 0
    crm = next(item for item in data["sources"] if item["name"] == "crm_customers")
    absent = CRM_HEADER.split(",")[1:]
    assert crm["missing_optional_columns"] == absent
    assert crm["raw_rows"] == 2 and crm["dispositions"]["staged"] == 2
    assert {
        "level": "warning",
        "message": "crm_customers: 15 of 16 contract columns absent, "
        "read as null: " + ", ".join(absent),
    } in data["findings"]


# --- no dbt -------------------------------------------------------------------------------------


def test_every_documented_reason_code_has_a_hint() -> None:
    """docs/raw_data_contract.md lists the reason codes per source; each has its own line."""
    text = (PROJECT_DIR / "docs" / "raw_data_contract.md").read_text()
    table = text[text.index("## Quarantine reason codes") :].split("\n\n")[2]
    codes = {
        (row.split("|")[1].strip(), code.strip())
        for row in table.splitlines()[2:]
        for code in row.split("|")[2].split(",")
    }
    assert len(codes) > 40
    assert [pair for pair in codes if reason_hint(*pair) == NO_HINT] == []
    seeded = {source_reason for source_reason in reason_hints(PROJECT_DIR)}
    used = {("", code) for _, code in codes} | codes
    assert seeded - used == set()
    assert re.search(
        "segments__campaign_event_types", reason_hint("campaign_events", "unknown_event_type")
    )


def test_landing_paths_and_headers(tmp_path: Path) -> None:
    """A single file or a folder of deliveries; CSV headers read as the contract reads them
    (BOM, quotes, spaces stripped), Parquet from its schema."""
    write(tmp_path / "orders.csv", '\ufeff"Order_ID", order_ts ,status')
    (tmp_path / "web_events").mkdir()
    with duckdb.connect() as con:
        for day in ("2026-06-30", "2026-06-29"):
            target = tmp_path / "web_events" / f"{day}.parquet"
            con.execute(f"copy (select 'e1' as event_id, 1 as Event_TS) to '{target}'")
    assert landing_paths(tmp_path, "orders") == [tmp_path / "orders.csv"]
    assert [p.name for p in landing_paths(tmp_path, "web_events")] == [
        "2026-06-29.parquet",
        "2026-06-30.parquet",
    ]
    assert landing_paths(tmp_path, "products") == []
    assert file_columns(tmp_path / "orders.csv") == ["Order_ID", "order_ts", "status"]
    assert file_columns(landing_paths(tmp_path, "web_events")[0]) == ["event_id", "Event_TS"]
