"""Time a full build of the large sources' base models against a one-day incremental run.

Generates a data set, lands each large source (web events, orders, order items, campaign
events) as a folder of deliveries: everything dated more than a week before the last day (one
history file), one file per day for the week before the last day, and the last day (plus the rows
the generator dates later). Then:

  1. history only, as_of_date = the day before: dbt run of the base models (setup);
  2. the daily file lands, as_of_date = the last day: dbt run (incremental), timed;
  3. the same folder, dbt run --full-refresh, timed.

Both timed runs print the per-model execution times from run_results.json. `--select`
widens the timed runs from the four base models to any selection, e.g. `'fqn:*'` for a
one-day refresh of the whole project (only the base models are incremental; everything
downstream is rebuilt). Examples:

    PYTHONPATH=src .venv/bin/python benchmarks/incremental_staging.py --customers 30000 \\
        --work-dir /tmp/incremental_bench
    PYTHONPATH=src .venv/bin/python benchmarks/incremental_staging.py --customers 30000 \\
        --work-dir /tmp/incremental_project --select 'fqn:*'
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from segwarehouse.dbt_runner import DbtInvocation
from segwarehouse.generator import generate
from segwarehouse.landing import INCREMENTAL_BASE_MODELS as MODELS
from segwarehouse.landing import land_daily

PROJECT_DIR = Path(__file__).resolve().parents[1]
END_DATE = date(2026, 6, 30)
# How many of the slowest nodes each timed run lists.
SLOWEST = 8


def dbt(work: Path, name: str, as_of: date, *args: str) -> tuple[float, dict[str, float]]:
    """Run dbt on the work dir; wall seconds and per-model execution seconds."""
    dbt_vars = {
        "as_of_date": as_of.isoformat(),
        "segments__loaded_at": f"{(as_of + timedelta(days=1)).isoformat()} 00:00:00",
    }
    target = work / f"target-{name}"
    invocation = DbtInvocation(
        PROJECT_DIR,
        raw_dir=work / "raw",
        warehouse=work / "warehouse.duckdb",
        target_path=target,
        log_path=work / "logs",
        dbt_vars=dbt_vars,
    )
    started = time.perf_counter()
    completed = invocation.run(*args, capture=True)
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
    parser.add_argument(
        "--select",
        nargs="+",
        default=list(MODELS),
        help="dbt selection of the timed runs (default: the four incremental base models)",
    )
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    if work.exists():
        shutil.rmtree(work)
    generate(args.customers, args.seed, work / "single", work / "truth", END_DATE, fmt="csv")
    landed = land_daily(work / "single", work / "raw", END_DATE)
    parked = work / "parked"
    parked.mkdir()
    for source, path in landed.last_day_files.items():
        shutil.move(path, parked / f"{source}.parquet")
    select = ["--select", *args.select]
    dbt(work, "seed", END_DATE, "seed")
    dbt(work, "history", END_DATE - timedelta(days=1), "run", *select)
    for source, path in landed.last_day_files.items():
        shutil.move(parked / f"{source}.parquet", path)
    incremental = dbt(work, "incremental", END_DATE, "run", *select)
    full = dbt(work, "full", END_DATE, "run", "--full-refresh", *select)
    print(f"customers: {args.customers}")
    for source, history_rows in landed.history_rows.items():
        day_rows = landed.last_day_rows[source]
        print(f"{source}: {history_rows} history rows + {day_rows} rows in the daily delivery")
    for label, (wall, per_model) in (("one-day incremental", incremental), ("full", full)):
        models = ", ".join(f"{model} {per_model[model]:.1f} s" for model in MODELS)
        print(f"{label}: dbt wall {wall:.1f} s; {models}; sum {sum(per_model.values()):.1f} s")
        slowest = sorted(per_model.items(), key=lambda item: -item[1])[:SLOWEST]
        print("  slowest: " + ", ".join(f"{model} {seconds:.1f} s" for model, seconds in slowest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
