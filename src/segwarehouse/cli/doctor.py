"""`segwarehouse doctor`: what staging would do with a landing folder, before the first build."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from segwarehouse.cli.common import from_root
from segwarehouse.settings import (
    Settings,
)


def add_doctor(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "doctor",
        help="check a landing folder before the first build: what staging would do with it",
        description="Run the staging build (raw-contract hook, staging, quarantine, "
        "reconciliation, their tests) on the landing folder into a throw-away DuckDB file and "
        "report per file: found or missing, columns against the contract, rows, parse failures "
        "per typed column, date range, what would be quarantined and why; then the vars this "
        "data needs and a verdict. Exit codes: 0 ok or warnings, 1 the build or the publish "
        "audit would fail, 2 doctor could not run.",
        epilog="Examples:\n  segwarehouse doctor\n  segwarehouse doctor --raw-dir /data/exports "
        "--json\n  segwarehouse doctor --vars '{segments__earliest_plausible_date: 1990-01-01}'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--raw-dir",
        type=Path,
        default=None,
        help="landing folder to check (default $SEGMENTS_RAW_DIR or data/raw)",
    )
    command.add_argument(
        "--vars", default=None, help="dbt vars for the build, as for dbt build --vars (YAML)"
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.add_argument(
        "--max-quarantine-rate",
        type=float,
        default=float(os.environ.get("SEGMENTS_MAX_QUARANTINE_RATE", "0.05")),  # as refresh
        help="limit for sources without a row in seeds/quality/source_quarantine_limits.csv, "
        "as refresh applies it (default $SEGMENTS_MAX_QUARANTINE_RATE or %(default)s)",
    )
    command.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from segwarehouse.doctor import run_command

    settings = Settings.from_env()
    raw_dir = from_root(settings, args.raw_dir) if args.raw_dir else settings.raw_dir
    return run_command(
        raw_dir, settings.project_dir, args.vars, args.json, args.max_quarantine_rate
    )
