"""`segwarehouse generate`: deterministic synthetic landing files and their ground truth."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from segwarehouse.cli.common import (
    DEMO_CUSTOMERS,
    DEMO_SEED,
    memory_limit,
    positive_int,
    print_progress,
    today,
)
from segwarehouse.settings import (
    Settings,
)


def add_generate(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "generate",
        help="write deterministic synthetic raw data (and its ground truth)",
        description="Write one file per raw source into --out and the true person behind every "
        "record into --truth-dir (never into the landing folder).",
        epilog="Examples:\n  segwarehouse generate --customers 10000 --out data/raw\n"
        "  segwarehouse generate --customers 1000000 --format parquet --out data/bench/raw "
        "--truth-dir data/bench/truth --end-date 2026-06-30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings = Settings.from_env()
    command.add_argument(
        "--customers",
        type=positive_int,
        default=DEMO_CUSTOMERS,
        help="number of people (default %(default)s)",
    )
    command.add_argument(
        "--seed", type=int, default=DEMO_SEED, help="random seed (default %(default)s)"
    )
    command.add_argument(
        "--out",
        type=Path,
        default=settings.raw_dir,
        help="landing folder to write (default $SEGMENTS_RAW_DIR or data/raw)",
    )
    command.add_argument(
        "--truth-dir",
        type=Path,
        default=settings.truth_dir,
        help="ground-truth folder (default $SEGMENTS_TRUTH_DIR or data/truth)",
    )
    command.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=today(),
        help="last day of the generated history, YYYY-MM-DD (default today, UTC)",
    )
    command.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help="file format (default %(default)s)",
    )
    command.add_argument(
        "--threads",
        type=positive_int,
        default=int(os.environ.get("SEGMENTS_DUCKDB_THREADS", "2")),
        help="DuckDB threads (default $SEGMENTS_DUCKDB_THREADS or 2); the files do not depend "
        "on it",
    )
    command.add_argument(
        "--memory-limit",
        type=memory_limit,
        default=os.environ.get("SEGMENTS_MEMORY_LIMIT", "4GB"),
        help="DuckDB memory_limit (default $SEGMENTS_MEMORY_LIMIT or 4GB); beyond it the "
        "generator spills to $TMPDIR (at 5M customers, 4GB spilled more than 38 GB); the "
        "files do not depend on it",
    )
    command.set_defaults(handler=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    from segwarehouse.generator import generate

    summary = generate(
        customers=args.customers,
        seed=args.seed,
        out_dir=args.out.resolve(),
        truth_dir=args.truth_dir.resolve(),
        end_date=args.end_date,
        fmt=args.format,
        threads=args.threads,
        memory_limit=args.memory_limit,
        progress=print_progress,
    )
    print(f"wrote {args.out} and {args.truth_dir} in {summary.total_seconds:.1f}s")
    return 0
