"""Time a full build of the large sources' base models against a one-day incremental run.

Generates a data set, lands each large source (web events, orders, order items, campaign
events) as a folder of deliveries: everything dated more than a week before the last day (one
history file), one file per day for the week before the last day, and the last day (plus the rows
the generator dates later). Then:

  1. history only, as_of_date = the day before: dbt run of the base models (setup);
  2. the daily file lands, as_of_date = the last day: dbt run (incremental), timed;
  3. the same folder, dbt run --full-refresh, timed.

Both timed runs print the per-model execution times from run_results.json. Example:

    PYTHONPATH=src .venv/bin/python benchmarks/incremental_staging.py --customers 30000 \\
        --work-dir /tmp/incremental_bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb

from segwarehouse.generator import generate

PROJECT_DIR = Path(__file__).resolve().parents[1]
END_DATE = date(2026, 6, 30)
LARGE_SOURCES = {
    "web_events": "event_ts",
    "orders": "order_ts",
    "order_items": None,
    "campaign_events": "event_ts",
}
MODELS = (
    "base_web__events",
    "base_commerce__orders",
    "base_commerce__order_items",
    "base_marketing__campaign_events",
)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def land(single: Path, raw: Path, last_day: date) -> dict[str, tuple[int, int]]:
    """Write raw/<source>/<day>.parquet: one file for everything dated more than a week before
    the last day, one per day for the week before it, one for the last day (and the rows dated
    later). Returns (rows before the last day, rows in the last day's file) per source."""
    con = duckdb.connect()
    rows: dict[str, tuple[int, int]] = {}
    first_daily = last_day - timedelta(days=7)
    day_of = (
        "least(greatest(cast(try_cast({ts} as timestamp) as date), date '{first}'), date '{last}')"
    )
    order_day = (
        "select order_id, max("
        + day_of.format(ts="order_ts", first=first_daily, last=last_day)
        + f") as delivery from read_csv({_quote(single / 'orders.csv')}, all_varchar = true)"
        " group by order_id"
    )
    for source, ts_column in LARGE_SOURCES.items():
        reader = f"read_csv({_quote(single / (source + '.csv'))}, all_varchar = true)"
        if ts_column is None:
            delivery = f"coalesce(order_day.delivery, date '{first_daily}')"
            relation = f"{reader} as rows_in left join ({order_day}) as order_day using (order_id)"
        else:
            day = day_of.format(ts=ts_column, first=first_daily, last=last_day)
            delivery = f"coalesce({day}, date '{first_daily}')"
            relation = f"{reader} as rows_in"
        (raw / source).mkdir(parents=True)
        con.execute(
            f"create or replace table delivered as select rows_in.*, {delivery} as delivery"
            f" from {relation}"
        )
        days = [row[0] for row in con.execute("select distinct delivery from delivered").fetchall()]
        for day in days:
            name = (day - timedelta(days=1)) if day == first_daily else day
            path = raw / source / f"{name.isoformat()}.parquet"
            con.execute(
                f"copy (select * exclude (delivery) from delivered where delivery = date '{day}')"
                f" to {_quote(path)} (format parquet)"
            )
        counted = con.execute(
            f"select count(*) filter (where delivery < date '{last_day}'),"
            f" count(*) filter (where delivery = date '{last_day}') from delivered"
        ).fetchone()
        rows[source] = (counted[0], counted[1])
    con.close()
    return rows


def dbt(work: Path, name: str, as_of: date, *args: str) -> tuple[float, dict[str, float]]:
    """Run dbt on the work dir; wall seconds and per-model execution seconds."""
    env = {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(work / "raw"),
        "SEGMENTS_WAREHOUSE": str(work / "warehouse.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt_vars = {
        "as_of_date": as_of.isoformat(),
        "segments__loaded_at": f"{(as_of + timedelta(days=1)).isoformat()} 00:00:00",
    }
    target = work / f"target-{name}"
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--vars",
        json.dumps(dbt_vars),
        "--target-path",
        str(target),
        "--log-path",
        str(work / "logs"),
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(completed.stdout + completed.stderr)
    results = json.loads((target / "run_results.json").read_text())["results"]
    per_model = {result["unique_id"].split(".")[-1]: result["execution_time"] for result in results}
    return wall, per_model


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, land, run the three steps and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    if work.exists():
        shutil.rmtree(work)
    generate(args.customers, args.seed, work / "single", work / "truth", END_DATE, fmt="csv")
    rows = land(work / "single", work / "raw", END_DATE)
    for source in ("crm_customers", "products", "consents", "erasure_requests"):
        shutil.copy2(work / "single" / f"{source}.csv", work / "raw")
    daily = {source: work / "raw" / source / f"{END_DATE}.parquet" for source in LARGE_SOURCES}
    daily = {source: path for source, path in daily.items() if path.exists()}
    parked = work / "parked"
    parked.mkdir()
    for source, path in daily.items():
        shutil.move(path, parked / f"{source}.parquet")
    select = ["--select", *MODELS]
    dbt(work, "seed", END_DATE, "seed", "--select", "currency_rates")
    dbt(work, "history", END_DATE - timedelta(days=1), "run", *select)
    for source, path in daily.items():
        shutil.move(parked / f"{source}.parquet", path)
    incremental = dbt(work, "incremental", END_DATE, "run", *select)
    full = dbt(work, "full", END_DATE, "run", "--full-refresh", *select)
    print(f"customers: {args.customers}")
    for source, (history_rows, day_rows) in rows.items():
        print(f"{source}: {history_rows} history rows + {day_rows} rows in the daily delivery")
    for label, (wall, per_model) in (("one-day incremental", incremental), ("full", full)):
        models = ", ".join(f"{model} {per_model[model]:.1f} s" for model in MODELS)
        print(f"{label}: dbt wall {wall:.1f} s; {models}; sum {sum(per_model.values()):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
