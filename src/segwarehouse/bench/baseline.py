"""The baseline child process: runs benchmarks/staging_baseline.sql once in a fresh DuckDB
connection and writes its SQL seconds and reconciliation counts (`python -m segwarehouse.bench`)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from segwarehouse.bench.results import connection_counts
from segwarehouse.bench.steps import build_vars
from segwarehouse.settings import (
    OPTIONAL_SOURCES,
    REQUIRED_SOURCES,
)
from segwarehouse.sqltext import sql_literal

PARQUET_LANDING = (
    "create or replace macro landing(name) as table "
    "select file_row_number as _row, struct_pack(*columns(* exclude (file_row_number))) as raw "
    "from read_parquet(getvariable('raw_dir') || '/' || name || '.parquet', "
    "file_row_number = true)"
)
CSV_OPTIONS = "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"'"


def baseline_main(argv: Sequence[str] | None = None) -> int:
    """Run the baseline script once (the child process the harness measures)."""
    args = _baseline_parser().parse_args(argv)
    config = {
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "temp_directory": str(args.temp_dir),
        "preserve_insertion_order": False,
    }
    script = args.script.read_text(encoding="utf-8")
    with duckdb.connect(str(args.database), config=config) as con:
        started = time.perf_counter()
        _define_inputs(con, args)
        con.execute(script).fetchall()
        sql_seconds = time.perf_counter() - started
        counts = connection_counts(con)
    result = {"sql_seconds": round(sql_seconds, 3), "counts": counts}
    args.result.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _baseline_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segwarehouse.bench",
        description="Run benchmarks/staging_baseline.sql once (used by `segwarehouse bench`).",
    )
    for name in ("--script", "--database", "--raw-dir", "--seeds-dir", "--temp-dir", "--result"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--format", choices=("csv", "parquet"), required=True)
    parser.add_argument("--as-of-date", type=date.fromisoformat, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    return parser


def _define_inputs(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    """The variables and the landing() macro the baseline script expects.

    landing(name) yields (_row, raw): a row number that is the same on every read and the raw
    row as a struct of text. Parquet has file_row_number; a CSV file is read once into a
    numbered temp table (this is part of the timed work).
    """
    loaded_at = build_vars(args.as_of_date)["segments__loaded_at"]
    values = {
        "raw_dir": str(args.raw_dir),
        "seeds_dir": str(args.seeds_dir),
        "as_of_date": args.as_of_date.isoformat(),
        "loaded_at": loaded_at,
    }
    for name, value in values.items():
        con.execute(f"set variable {name} = ?", [value])
    if args.format == "parquet":
        con.execute(PARQUET_LANDING)
        return
    for source in (*REQUIRED_SOURCES, *OPTIONAL_SOURCES):
        path = sql_literal(str(args.raw_dir / f"{source}.csv"))
        con.execute(
            f"create or replace temp table csv_{source} as select row_number() over () as _row, "
            f"struct_pack(*columns(*)) as raw from read_csv({path}, {CSV_OPTIONS})"
        )
    con.execute(
        "create or replace macro landing(name) as table "
        "select _row, raw from query_table('csv_' || name)"
    )
