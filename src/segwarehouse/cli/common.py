"""Helpers shared by the subcommands: argument types, gate and docs-dir arguments, paths."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from segwarehouse.settings import (
    Settings,
)

DEMO_CUSTOMERS = 10_000


DEMO_SEED = 42


def add_as_of_date_argument(command: argparse.ArgumentParser) -> None:
    """The day the build is as of (run and refresh)."""
    command.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="build as of this day, YYYY-MM-DD (default today, UTC)",
    )


def add_gate_arguments(command: argparse.ArgumentParser) -> None:
    """The volume-check thresholds of the write-audit-publish gate (run and refresh)."""
    from segwarehouse import publish

    command.add_argument(
        "--max-quarantine-rate",
        type=float,
        default=float(
            os.environ.get("SEGMENTS_MAX_QUARANTINE_RATE", publish.DEFAULT_MAX_QUARANTINE_RATE)
        ),
        help="limit on the share of rows a source may quarantine, for a work warehouse "
        "without the seed source_quarantine_limits (default $SEGMENTS_MAX_QUARANTINE_RATE or "
        "%(default)s)",
    )
    for flag, env, what in (
        ("--max-row-drop", "SEGMENTS_MAX_ROW_DROP", "any mart has lost this share of"),
        ("--max-source-growth", "SEGMENTS_MAX_SOURCE_GROWTH", "any source has this many times"),
        ("--max-source-drop", "SEGMENTS_MAX_SOURCE_DROP", "any source has lost this share of"),
    ):
        command.add_argument(
            flag,
            type=float,
            default=float(os.environ[env]) if os.environ.get(env) else None,
            help=f"fail when {what} the rows it had in the last published run, or more; "
            f"overrides {publish.VOLUME_SEED} for this run (default ${env}, else the seed)",
        )
    command.add_argument(
        "--allow-stale",
        action="store_true",
        help="publish even when a required source's newest landing file is older than "
        "var freshness__error_after_hours (otherwise exit 5, one line per stale source)",
    )


def add_docs_dir_argument(command: argparse.ArgumentParser) -> None:
    """Where the audit writes GX Data Docs (run and refresh)."""
    command.add_argument(
        "--docs-dir",
        type=Path,
        default=None,
        help="Data Docs folder of the audit (default target/data_docs; open index.html)",
    )


def from_root(settings: Settings, path: Path) -> Path:
    return path if path.is_absolute() else settings.project_dir / path


def resolve_docs_dir(settings: Settings, docs_dir: Path | None) -> Path:
    """--docs-dir of check, run and refresh: default target/data_docs, from the project root."""
    return from_root(settings, docs_dir or Path("target/data_docs"))


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MEMORY_LIMIT_PATTERN = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def memory_limit(text: str) -> str:
    """A DuckDB memory_limit: a number and a unit (4GB, 512MiB)."""
    if not MEMORY_LIMIT_PATTERN.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a memory size: give a number and a unit, e.g. 4GB or 512MiB"
        )
    return text.strip()


def today() -> date:
    return datetime.now(UTC).date()
