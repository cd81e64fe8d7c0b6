"""Command line: `segwarehouse generate | run | summary`. See `segwarehouse <command> --help`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from segwarehouse.dbt_runner import run_dbt
from segwarehouse.settings import Settings, landing_files
from segwarehouse.warehouse import reconciliation, table_counts

DEMO_CUSTOMERS = 10_000
DEMO_SEED = 42


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, FileNotFoundError) as error:
        print(f"segwarehouse {args.command}: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segwarehouse",
        description="Customer-segmentation warehouse (dbt on DuckDB): demo data, build, summary.",
        epilog="Examples:\n  segwarehouse run\n  segwarehouse generate --customers 100000 "
        "--out data/raw\n  segwarehouse summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_generate(commands)
    _add_run(commands)
    _add_summary(commands)
    return parser


def _add_generate(commands: argparse._SubParsersAction) -> None:
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
        type=_positive_int,
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
        default=_today(),
        help="last day of the generated history, YYYY-MM-DD (default today, UTC)",
    )
    command.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help="file format (default %(default)s)",
    )
    command.set_defaults(handler=_generate)


def _add_run(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "run",
        help="build the warehouse (generating demo data first when the landing folder is empty)",
        description="If the landing folder holds no contract file, generate demo data into it; "
        "then `dbt build` (seeds, models, tests) and print where the marts are.",
        epilog="Examples:\n  segwarehouse run\n  segwarehouse run --as-of-date 2026-01-31\n"
        "  SEGMENTS_RAW_DIR=~/exports segwarehouse run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="build as of this day, YYYY-MM-DD (default today, UTC)",
    )
    command.add_argument(
        "--demo-customers",
        type=_positive_int,
        default=DEMO_CUSTOMERS,
        help="people in generated demo data (default %(default)s)",
    )
    command.set_defaults(handler=_run)


def _add_summary(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "summary",
        help="print the built tables, their row counts and the staging reconciliation",
        epilog="Example:\n  segwarehouse summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(handler=_summary)


def _generate(args: argparse.Namespace) -> int:
    from segwarehouse.generator import generate

    summary = generate(
        customers=args.customers,
        seed=args.seed,
        out_dir=args.out.resolve(),
        truth_dir=args.truth_dir.resolve(),
        end_date=args.end_date,
        fmt=args.format,
        progress=_print_progress,
    )
    print(f"wrote {args.out} and {args.truth_dir} in {summary.total_seconds:.1f}s")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not landing_files(settings.raw_dir):
        print(
            f"{settings.raw_dir} holds no raw files: generating demo data "
            f"({args.demo_customers:,} customers)"
        )
        _generate(
            argparse.Namespace(
                customers=args.demo_customers,
                seed=DEMO_SEED,
                out=settings.raw_dir,
                truth_dir=settings.truth_dir,
                end_date=args.as_of_date or _today(),
                format="csv",
            )
        )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    dbt_vars = {"as_of_date": args.as_of_date.isoformat()} if args.as_of_date else None
    started = time.perf_counter()
    result = run_dbt(settings.project_dir, ["build"], dbt_vars=dbt_vars)
    if not result.success:
        print("dbt build failed: see the messages above.", file=sys.stderr)
        return 1
    print(f"\nbuilt in {time.perf_counter() - started:.0f}s")
    _summary(args)
    return 0


def _summary(_args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `make run` first")
    print(f"\nwarehouse: {settings.warehouse}")
    for table in table_counts(settings.warehouse):
        print(f"  {table.schema}.{table.name:<32} {table.rows:>12,} rows")
    print("\nstaging reconciliation (raw = staged + quarantined + duplicate + superseded + later):")
    for source, *counts in reconciliation(settings.warehouse):
        print(f"  {source:<18}" + "".join(f"{count:>11,}" for count in counts))
    print(
        "\nquery it:\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.warehouse}', "
        "read_only=True).sql('select * from audit.source_reconciliation'))\""
    )
    return 0


def _print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _today() -> date:
    return datetime.now(UTC).date()


if __name__ == "__main__":
    raise SystemExit(main())
