"""Time the incremental staging models' grain tests whole and scoped to one run's rows.

Runs each test's SQL (as macros/tests/unique.sql and unique_combination_of_columns.sql render
it) against a refreshed warehouse, read-only: once over every row (a full build, or
tests__full_scope) and once scoped to the rows of the warehouse's last batch (a daily run
whose previous run passed). Prints one JSON object; docs/benchmarks.md quotes it.

    python benchmarks/scoped_grain_tests.py --warehouse <refreshed warehouse.duckdb>
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import duckdb

# (tested model, key columns, base model holding batch_run_started_at)
GRAIN_TESTS = (
    ("staging.stg_web__events", ("event_id",), "staging.base_web__events"),
    ("staging.stg_commerce__orders", ("order_id",), "staging.base_commerce__orders"),
    (
        "staging.stg_commerce__order_items",
        ("order_id", "line_number"),
        "staging.base_commerce__order_items",
    ),
)


def grain_sql(model: str, keys: tuple[str, ...], base: str, since: str | None) -> str:
    """The test's query: repeated keys, scoped to rows of `base` stamped after `since`."""
    columns = ", ".join(keys)
    if since is None:
        scope = ""
    elif len(keys) == 1:
        scope = (
            f"and {keys[0]} in (select {keys[0]} from {base} "
            f"where batch_run_started_at > timestamp '{since}')"
        )
    else:
        matches = " and ".join(f"written.{k} is not distinct from tested.{k}" for k in keys)
        scope = (
            f"and exists (select 1 from {base} as written where "
            f"written.batch_run_started_at > timestamp '{since}' and {matches})"
        )
    not_null = f"{keys[0]} is not null" if len(keys) == 1 else "true"
    return (
        f"select {columns}, count(*) from {model} as tested where {not_null} {scope} "
        f"group by {columns} having count(*) > 1"
    )


def timed(con: duckdb.DuckDBPyConnection, sql: str, runs: int) -> tuple[float, int]:
    """Median seconds over `runs` runs, and the number of failing rows."""
    seconds = []
    rows = 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    con.execute(f"set threads = {args.threads}")
    results = []
    for model, keys, base in GRAIN_TESTS:
        batches = con.execute(
            f"select batch_run_started_at, count(*) from {base} group by 1 order by 1 desc limit 2"
        ).fetchall()
        since = str(batches[1][0]) if len(batches) > 1 else None
        whole, whole_rows = timed(con, grain_sql(model, keys, base, None), args.runs)
        scoped, scoped_rows = timed(con, grain_sql(model, keys, base, since), args.runs)
        [(rows,)] = con.execute(f"select count(*) from {model}").fetchall()
        results.append(
            {
                "model": model,
                "rows": rows,
                "rows_in_last_batch": batches[0][1],
                "whole_seconds": round(whole, 4),
                "scoped_seconds": round(scoped, 4),
                "ratio": round(scoped / whole, 3),
                "failing_rows": [whole_rows, scoped_rows],
            }
        )
    print(json.dumps({"warehouse": str(args.warehouse), "runs": args.runs, "tests": results}))


if __name__ == "__main__":
    main()
