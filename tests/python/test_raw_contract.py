"""The raw-data contract: bad landing folders stop the build with one clear line; a minimal,
messy but valid folder builds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import Workspace
from shapes import CRM_HEADER, ORDERS_HEADER

AS_OF = {"as_of_date": "2026-06-30", "segments__loaded_at": "2026-07-01 00:00:00"}


def write(path: Path, *lines: str) -> None:
    path.write_text("\n".join(lines) + "\n")


def valid_crm(raw_dir: Path) -> None:
    write(
        raw_dir / "crm_customers.csv",
        CRM_HEADER,
        "C1,a@b.com,555-123-4567,Ann,Lee,1980-01-01,F,1 Main St,Springfield,IL,62701,US,L1,"
        "webshop,2024-01-01 00:00:00,2024-01-01 00:00:00",
    )


def valid_orders(raw_dir: Path) -> None:
    write(
        raw_dir / "orders.csv",
        ORDERS_HEADER,
        "O1,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0",
    )


def assert_one_clear_line(run_output: str, *fragments: str) -> None:
    """The error is a single message line containing every fragment, and no Python traceback."""
    assert "Traceback" not in run_output
    matching = [line for line in run_output.splitlines() if all(f in line for f in fragments)]
    assert matching, f"no line with {fragments} in:\n{run_output}"


def test_missing_required_file_names_it(workspace: Workspace) -> None:
    valid_crm(workspace.raw_dir)
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode != 0
    assert_one_clear_line(run.output, "required file 'orders' not found", "orders.csv")


def test_missing_required_column_names_file_and_column(workspace: Workspace) -> None:
    valid_crm(workspace.raw_dir)
    write(
        workspace.raw_dir / "orders.csv",
        "order_id,customer_id,status,order_total",
        "O1,C1,completed,1",
    )
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode != 0
    assert_one_clear_line(run.output, "orders.csv has no column 'order_ts' (required)")


def test_empty_file_is_refused_with_the_columns_it_needs(workspace: Workspace) -> None:
    valid_crm(workspace.raw_dir)
    (workspace.raw_dir / "orders.csv").write_text("")
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode != 0
    assert_one_clear_line(run.output, "orders.csv is empty (0 bytes)", "order_id")


def test_both_formats_for_one_source_are_refused(workspace: Workspace) -> None:
    valid_crm(workspace.raw_dir)
    valid_orders(workspace.raw_dir)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_csv('{workspace.raw_dir / 'orders.csv'}', all_varchar=true))"
            f" to '{workspace.raw_dir / 'orders.parquet'}' (format parquet)"
        )
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode != 0
    assert_one_clear_line(run.output, "keep exactly one file per source")


def test_ragged_csv_line_fails_naming_file_and_line(workspace: Workspace) -> None:
    """A line with more fields than the header is not guessed around: the build stops and
    says which file and which line."""
    valid_crm(workspace.raw_dir)
    write(
        workspace.raw_dir / "orders.csv",
        ORDERS_HEADER,
        "O1,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0",
        "O2,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0",
        'O3,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0,"extra",1,2,3',
    )
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode != 0
    assert "Traceback" not in run.output
    assert_one_clear_line(run.output, "CSV Error on Line: 4")
    assert_one_clear_line(run.output, "file = ", "orders.csv")


def test_malformed_as_of_date_is_refused(workspace: Workspace) -> None:
    valid_crm(workspace.raw_dir)
    valid_orders(workspace.raw_dir)
    run = workspace.dbt("build", "--select", "+staging", dbt_vars={"as_of_date": "30/06/2026"})
    assert run.returncode != 0
    assert_one_clear_line(run.output, "as_of_date must be a date written YYYY-MM-DD")


def test_minimal_messy_folder_builds_and_reconciles(workspace: Workspace) -> None:
    """Only the two required files, headers in another case and order, an extra column, a
    header-only optional file, unparseable values and duplicated keys: it builds, every row is
    accounted for and each bad row has a reason. A third of the CRM rows and half the orders
    are bad, above both required sources' quarantine limits, so dbt build ends with the gate's
    one line naming both (after staging and the audit tables are built)."""
    write(
        workspace.raw_dir / "crm_customers.csv",
        "Email,CUSTOMER_ID,Loyalty_Card_Colour,created_at",
        " Ann@B.com ,C1,gold,2024-01-01 00:00:00",
        "ann@b.com,C1,gold,2024-02-01 00:00:00",
        ",,blue,2024-01-01",
    )
    write(
        workspace.raw_dir / "orders.csv",
        "order_id,customer_id,order_ts,status,order_total",
        "O1,C1,2024-05-01 10:00:00,completed,10.00",
        "O1,C1,2024-05-01 10:00:00,completed,10.00",
        "O2,C1,yesterday,completed,10.00",
        "O3,C1,2024-05-01 10:00:00,completed,ten",
        "O4,C1,2026-07-01 10:00:00,completed,10.00",
        "O5,C1,2099-01-01 10:00:00,completed,10.00",
    )
    write(workspace.raw_dir / "web_events.csv", "event_id,event_type,event_ts")
    run = workspace.dbt("build", dbt_vars=AS_OF)
    assert run.returncode == 1, run.output
    [gate] = [line for line in run.output.splitlines() if "Invalid Input Error:" in line]
    assert "crm_customers: 33.3% of 3 raw rows quarantined, above the limit of 2.0%" in gate
    assert "orders: 50.0% of 6 raw rows quarantined, above the limit of 5.0%" in gate
    assert "Traceback" not in run.output

    counts = dict(
        (source, rest)
        for source, *rest in workspace.query(
            "select source_name, raw_rows, staged_rows, quarantined_rows, duplicate_rows, "
            "superseded_rows, not_yet_visible_rows from audit.source_reconciliation"
        )
    )
    assert counts["crm_customers"] == [3, 1, 1, 0, 1, 0]
    assert counts["orders"] == [6, 1, 3, 1, 0, 1]
    assert counts["web_events"] == [0, 0, 0, 0, 0, 0]
    reasons = sorted(
        workspace.query("select source_name, quarantine_reason from audit.quarantined_rows")
    )
    assert reasons == [
        ("crm_customers", "missing_customer_id"),
        ("orders", "future_timestamp"),
        ("orders", "unparseable_order_total"),
        ("orders", "unparseable_order_ts"),
    ]
    assert workspace.query("select customer_id, email from staging.stg_crm__customers") == [
        ("C1", "ann@b.com")
    ]


@pytest.mark.parametrize("fmt", ["parquet"])
def test_parquet_landing_files_build(workspace: Workspace, fmt: str) -> None:
    valid_crm(workspace.raw_dir)
    valid_orders(workspace.raw_dir)
    with duckdb.connect() as con:
        for name in ("crm_customers", "orders"):
            csv_path = workspace.raw_dir / f"{name}.csv"
            con.execute(
                f"copy (select * from read_csv('{csv_path}', all_varchar=true)) "
                f"to '{workspace.raw_dir / f'{name}.{fmt}'}' (format parquet)"
            )
            csv_path.unlink()
    run = workspace.dbt(
        "build", "--select", "+staging", "--indirect-selection", "cautious", dbt_vars=AS_OF
    )
    assert run.returncode == 0, run.output
    assert workspace.query("select order_id from staging.stg_commerce__orders") == [("O1",)]
