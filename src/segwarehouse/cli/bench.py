"""`segwarehouse bench`: time dbt against the hand-written floor at several scales."""

from __future__ import annotations

import argparse
import shlex
from datetime import date
from pathlib import Path

from segwarehouse.cli.common import DEMO_CUSTOMERS, memory_limit, positive_int, print_progress
from segwarehouse.settings import (
    Settings,
    duckdb_limits,
)


def add_bench(commands: argparse._SubParsersAction) -> None:
    from segwarehouse.bench import config as bench

    command = commands.add_parser(
        "bench",
        help="time generator and dbt build of staging against a hand-written DuckDB floor",
        description="For each --customers scale: generate the data, `dbt build` the selection "
        "against a fresh warehouse (wall time, peak RSS, per-model times) and run "
        f"{bench.BASELINE_SQL} on the same files in a fresh process; write the markdown report "
        "and the JSON. Relative paths are taken from the repository root.",
        epilog="Examples:\n  segwarehouse bench --customers 10000\n"
        "  segwarehouse bench --customers 10000 --customers 1000000 --format parquet \\\n"
        "      --work-dir data/bench --report docs/benchmarks.md \\\n"
        "      --json benchmarks/results/benchmarks.json\n"
        '  SEGMENTS_MEMORY_LIMIT=4GB segwarehouse bench --customers 100000 --select "+staging"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--customers",
        type=positive_int,
        action="append",
        help="a scale to run, repeatable (default 10000)",
    )
    command.add_argument(
        "--format", choices=("csv", "parquet"), default="parquet", help="default %(default)s"
    )
    command.add_argument(
        "--work-dir", type=Path, default=Path("data/bench"), help="default %(default)s"
    )
    command.add_argument(
        "--report", type=Path, default=Path("docs/benchmarks.md"), help="default %(default)s"
    )
    command.add_argument(
        "--json",
        type=Path,
        default=Path("benchmarks/results/benchmarks.json"),
        help="default %(default)s",
    )
    command.add_argument(
        "--select",
        default=bench.DEFAULT_SELECT,
        help="dbt selection, spaces between selectors, or selector:<name> for a selector of "
        "selectors.yml (default %(default)r; --indirect-selection cautious is always added)",
    )
    command.add_argument("--seed", type=int, default=bench.DEFAULT_SEED, help="default %(default)s")
    command.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=bench.DEFAULT_END_DATE,
        help="generator end date = as_of_date (default %(default)s; fixed so runs compare)",
    )
    command.add_argument(
        "--threads",
        type=positive_int,
        default=int(duckdb_limits()["threads"]),
        help="DuckDB threads (default $SEGMENTS_DUCKDB_THREADS or 2)",
    )
    command.add_argument(
        "--memory-limit",
        type=memory_limit,
        default=duckdb_limits()["memory_limit"],
        help="DuckDB memory_limit (default $SEGMENTS_MEMORY_LIMIT or 8GB)",
    )
    command.add_argument(
        "--profiles-dir",
        type=Path,
        default=None,
        help="dbt profiles folder to use instead of the repository's profiles.yml "
        "(to measure a profile change; recorded in the report)",
    )
    command.add_argument(
        "--quality-gate",
        action="store_true",
        help="after each build, time `segwarehouse check` on its warehouse and report the "
        "validation share (dbt tests + GX gate); use with a selection that builds the marts, "
        "e.g. --select 'fqn:*'",
    )
    command.add_argument(
        "--refresh-day",
        action="store_true",
        help="after each build, time a one-day refresh: the same files landed as daily "
        "deliveries, an untimed build on all but the last day, then the last day's build "
        "(with --quality-gate, then the daily job's audit and publish too)",
    )
    command.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from segwarehouse.bench.config import BenchConfig
    from segwarehouse.bench.run import run as run_bench

    root = Settings.from_env().project_dir
    config = BenchConfig(
        project_dir=root,
        customers=tuple(args.customers or [DEMO_CUSTOMERS]),
        fmt=args.format,
        work_dir=root / args.work_dir,
        report=root / args.report,
        json_path=root / args.json,
        select=tuple(args.select.split()),
        seed=args.seed,
        end_date=args.end_date,
        threads=args.threads,
        memory_limit=args.memory_limit,
        profiles_dir=root / args.profiles_dir if args.profiles_dir else None,
        quality_gate=args.quality_gate,
        refresh_day=args.refresh_day,
        command_line=shlex.join(["segwarehouse", *args.argv]),
    )
    data = run_bench(config, progress=print_progress)
    print(f"wrote {config.report} and {config.json_path}")
    failed = [
        scale["customers"]
        for scale in data["scales"]
        if not (scale["dbt"]["success"] and scale["baseline"]["success"])
    ]
    return 1 if failed else 0
