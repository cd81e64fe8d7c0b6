"""Run the hand-written features + RFM baseline once, time it, and check it equals dbt's marts.

benchmarks/features_rfm_baseline.sql computes customer_features and customer_rfm from the
inputs of the dbt layer (staging views, identity tables, seeds) of a built warehouse.
This runner opens a fresh DuckDB database (deleted first) with the given threads and
memory_limit, attaches the warehouse READ_ONLY as `wh`, sets the script's variables (defaults
from dbt_project.yml's vars, so they stay in sync), times the script (wall seconds), then
compares both tables with wh.marts.customer_features / wh.marts.customer_rfm: per column, the
number of rows that differ (full outer join on customer_key, `is distinct from`; doubles equal
within 1e-9 relative). It prints the result as JSON (and writes it to --json) and exits 0 when
both tables are equal, 1 when not. Peak memory is for the caller to measure.

Example, on the warehouse `dbt build` made (profiles.yml default path):

    .venv/bin/python benchmarks/features_rfm_baseline.py \\
        --warehouse warehouse/segments.duckdb --database /tmp/rfm_baseline.duckdb \\
        --as-of-date 2026-06-30 --json /tmp/rfm_baseline.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "benchmarks" / "features_rfm_baseline.sql"
TABLES = ("customer_features", "customer_rfm")
KEY = "customer_key"
RELATIVE_TOLERANCE = 1e-9
# dbt vars the script reads as DuckDB variables of the same name.
SCRIPT_VARS = (
    "features__order_windows_days",
    "features__web_windows_days",
    "features__plausible_age_range",
    "features__winsorize_quantiles",
    "segments__lifecycle_new_days",
    "segments__lifecycle_active_days",
    "segments__lifecycle_churn_days",
    "segments__consent_default_granted",
)
# The script names its window columns for these windows (as the customer_features contract does).
SCRIPT_WINDOWS = {
    "features__order_windows_days": [30, 90, 365],
    "features__web_windows_days": [7, 30],
    "segments__consent_channels": ["email", "sms", "ads", "push"],
}


def project_vars(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The script's variables at their dbt_project.yml defaults; fails if a window moved."""
    defaults = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    values = {name: defaults["vars"][name] for name in SCRIPT_VARS}
    for name, windows in SCRIPT_WINDOWS.items():
        if defaults["vars"][name] != windows:
            raise SystemExit(
                f"{name} is {defaults['vars'][name]} in dbt_project.yml but the baseline "
                f"script names its columns for {windows}: update "
                "benchmarks/features_rfm_baseline.sql."
            )
    return values


def connect(database: Path, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A fresh database file (deleted first, with its WAL) with the given settings."""
    for path in (database, database.with_name(database.name + ".wal")):
        path.unlink(missing_ok=True)
    config = {
        "threads": threads,
        "memory_limit": memory_limit,
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(str(database), config=config)
    con.execute("set enable_progress_bar = false")
    return con


def set_variables(con: duckdb.DuckDBPyConnection, as_of_date: date, values: dict[str, Any]) -> None:
    """The DuckDB variables the script reads (as_of_date as a DATE)."""
    con.execute("set variable as_of_date = cast(? as date)", [as_of_date.isoformat()])
    for name, value in values.items():
        con.execute(f"set variable {name} = ?", [value])


def warehouse_as_of_date(con: duckdb.DuckDBPyConnection) -> date:
    """The as_of_date the attached warehouse was built with (from its dim_customers)."""
    row = con.execute("select max(as_of_date) from wh.marts.dim_customers").fetchone()
    if row is None or row[0] is None:
        raise SystemExit("wh.marts.dim_customers has no as_of_date: pass --as-of-date.")
    return row[0]


def run_script(con: duckdb.DuckDBPyConnection, script: Path) -> float:
    """Wall seconds of the whole script."""
    sql = script.read_text(encoding="utf-8")
    started = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - started


def columns(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str
) -> dict[str, str]:
    """Column name -> data type, in table order."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    return {name: data_type for name, data_type in rows}


def differs(column: str, data_type: str) -> str:
    """SQL that is true when the baseline (b) and dbt (d) values of a column differ."""
    left, right = f'b."{column}"', f'd."{column}"'
    if data_type in ("DOUBLE", "FLOAT", "REAL"):
        close = (
            f"abs({left} - {right}) <= {RELATIVE_TOLERANCE} * greatest(abs({left}), abs({right}))"
        )
        return f"({left} is distinct from {right} and not coalesce({close}, false))"
    return f"{left} is distinct from {right}"


def compare(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """Row counts, per-column differing rows, and column/type mismatches of one table."""
    database = con.execute("select current_database()").fetchone()
    assert database is not None
    baseline = columns(con, database[0], "main", table)
    dbt = columns(con, "wh", "marts", table)
    shared = [name for name in dbt if name in baseline]
    counts = ", ".join(
        f'count(*) filter (where {differs(name, dbt[name])}) as "{name}"' for name in shared
    )
    row = con.execute(
        f"""
        select
            count(b.{KEY}) as baseline_rows,
            count(d.{KEY}) as dbt_rows,
            count(*) filter (where b.{KEY} is null or d.{KEY} is null) as unmatched_rows,
            {counts}
        from main.{table} as b
        full outer join wh.marts.{table} as d on b.{KEY} = d.{KEY}
        """
    ).fetchone()
    assert row is not None
    baseline_rows, dbt_rows, unmatched, *per_column = row
    differences = dict(zip(shared, per_column, strict=True))
    type_mismatches = {
        name: {"baseline": baseline[name], "dbt": dbt[name]}
        for name in shared
        if baseline[name] != dbt[name]
    }
    column_mismatches = {
        "missing": [name for name in dbt if name not in baseline],
        "extra": [name for name in baseline if name not in dbt],
        "types": type_mismatches,
    }
    return {
        "rows": {"baseline": baseline_rows, "dbt": dbt_rows, "unmatched": unmatched},
        "differences": differences,
        "column_mismatches": column_mismatches,
        "equal": (
            baseline_rows == dbt_rows
            and unmatched == 0
            and not any(differences.values())
            and not any(column_mismatches.values())
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run, time and check the baseline; the JSON result."""
    values = project_vars()
    with connect(args.database, args.threads, args.memory_limit) as con:
        con.execute("attach ? as wh (read_only)", [str(args.warehouse)])
        as_of_date = args.as_of_date or warehouse_as_of_date(con)
        set_variables(con, as_of_date, values)
        seconds = run_script(con, args.script)
        tables = {table: compare(con, table) for table in TABLES}
    return {
        "seconds": round(seconds, 3),
        "as_of_date": as_of_date.isoformat(),
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "rows": {table: result["rows"] for table, result in tables.items()},
        "differences": {table: result["differences"] for table, result in tables.items()},
        "column_mismatches": {
            table: result["column_mismatches"] for table, result in tables.items()
        },
        "equal": all(result["equal"] for result in tables.values()),
    }


def parser() -> argparse.ArgumentParser:
    """The command line."""
    result = argparse.ArgumentParser(
        prog="features_rfm_baseline.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    result.add_argument(
        "--warehouse", type=Path, required=True, help="built dbt warehouse (attached read-only)"
    )
    result.add_argument(
        "--database", type=Path, required=True, help="output database file (deleted first)"
    )
    result.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="YYYY-MM-DD (default: the warehouse's dim_customers.as_of_date)",
    )
    result.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    result.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit (default 8GB)")
    result.add_argument("--json", type=Path, default=None, help="also write the result here")
    result.add_argument(
        "--script", type=Path, default=SCRIPT, help="the SQL script (default: %(default)s)"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when both tables equal dbt's marts, 1 when not."""
    args = parser().parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
