"""`segwarehouse check`: the Great Expectations suites against the built warehouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segwarehouse.cli.common import from_root, resolve_docs_dir
from segwarehouse.settings import (
    Settings,
)


def add_check(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "check",
        help="run the Great Expectations suites against the built warehouse (exit 3 on failure)",
        description="Validate raw sources (deterministic sample), staging (keys, reconciliation) "
        "and the public marts with the suites in segwarehouse.quality; append the results to "
        "audit.data_quality_results and write GX Data Docs. Exit codes: 0 all passed, "
        "3 a data-quality failure, 1 an error.",
        epilog="Examples:\n  segwarehouse check\n"
        "  segwarehouse check --warehouse /tmp/w.duckdb --docs-dir target/data_docs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="DuckDB file to check (default $SEGMENTS_WAREHOUSE or warehouse/segments.duckdb)",
    )
    command.add_argument(
        "--docs-dir",
        type=Path,
        default=None,
        help="Data Docs folder (default target/data_docs; open index.html)",
    )
    command.add_argument(
        "--no-record",
        action="store_true",
        help="do not write audit.data_quality_results (the warehouse is opened read-only)",
    )
    command.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from segwarehouse.quality import run_checks

    settings = Settings.from_env()
    warehouse = from_root(settings, args.warehouse) if args.warehouse else settings.warehouse
    if not warehouse.is_file():
        print(f"segwarehouse check: error: no warehouse at {warehouse}", file=sys.stderr)
        return 1
    docs_dir = resolve_docs_dir(settings, args.docs_dir)
    try:
        report = run_checks(warehouse, docs_dir=docs_dir, record=not args.no_record)
    except Exception as error:  # a broken suite or warehouse is an error, not a failed check
        print(f"segwarehouse check: error: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.summary_lines()))
    if not args.no_record:
        print(f"results: {warehouse} audit.data_quality_results (run_id {report.run_id})")
    print(f"data docs: {report.docs_index}")
    return 0 if report.success else 3
