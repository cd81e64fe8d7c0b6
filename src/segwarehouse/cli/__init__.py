"""Command line: `segwarehouse generate | doctor | run | summary | bench | check | refresh |
export | keygen | dashboard`. One module per subcommand (pipeline: run, refresh and summary);
each has `add_<command>(commands)`, which adds its parser, and its handler."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from segwarehouse.cli.bench import add_bench
from segwarehouse.cli.check import add_check
from segwarehouse.cli.dashboard import add_dashboard
from segwarehouse.cli.doctor import add_doctor
from segwarehouse.cli.export import add_export
from segwarehouse.cli.generate import add_generate
from segwarehouse.cli.keygen import add_keygen
from segwarehouse.cli.pipeline import add_refresh, add_run, add_summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
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
        "--out data/raw\n  segwarehouse summary\n  segwarehouse dashboard serve --port 8050",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_generate(commands)
    add_doctor(commands)
    add_run(commands)
    add_summary(commands)
    add_bench(commands)
    add_check(commands)
    add_refresh(commands)
    add_export(commands)
    add_keygen(commands)
    add_dashboard(commands)
    return parser
