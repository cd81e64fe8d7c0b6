"""`segwarehouse export`: upload-ready audience files of the published run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segwarehouse.cli.common import from_root
from segwarehouse.settings import (
    Settings,
)


def add_export(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "export",
        help="write the consent-gated audience files of the published run and their manifest",
        description="Read marts.audience_summary and marts.audience_exports from the serving "
        "file (the audited, published version; read-only) and write one upload-ready file per "
        "active audience into <out>/<as_of_date>/, in its destination's format (seed "
        "audience_destinations): Google Ads Customer Match Email,Phone and Meta custom "
        "audiences email,phone as SHA-256 of the normalised email and phone, a reverse-ETL "
        "table, email platforms customer_key, email and segment attributes. Beside each file, "
        "<file>.additions and <file>.removals hold the rows added and removed since the "
        "previous export under <out> (people who left the audience, revoked consent or were "
        "erased). The contact data comes from the restricted activation file the publish "
        "wrote beside the serving file (<serving stem>.activation.duckdb, mode 0600) for the "
        "same run; the work warehouse is not read, so a failed build after a publish does not "
        "stop the export. With no published run, or an activation file of another run, the "
        "export refuses. Every file is written under a temporary name and renamed once all "
        "are complete; manifest.json (run_id, previous export, per file: row count, "
        "additions, removals, sha256) is written last. Who is in a file is decided by the dbt "
        "build: treatment arm, not erased, consent for the channel as of as_of_date. Exit "
        "codes: 0 written, 2 refused or bad input, 4 a file is locked.",
        epilog="Examples:\n  segwarehouse export\n  segwarehouse export --format parquet\n"
        "  segwarehouse export --audience win_back_email --audience win_back_google_ads\n"
        "  SEGMENTS_EXPORT_DIR=/srv/exports segwarehouse export --serving /srv/segments.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="default %(default)s"
    )
    command.add_argument(
        "--out",
        type=Path,
        default=None,
        help="export folder (default $SEGMENTS_EXPORT_DIR or warehouse/exports)",
    )
    command.add_argument(
        "--serving",
        type=Path,
        default=None,
        help="published DuckDB file to export (default $SEGMENTS_SERVING or "
        "warehouse/serving.duckdb)",
    )
    command.add_argument(
        "--activation",
        type=Path,
        default=None,
        help="the restricted activation file of the published run (default: beside the "
        "serving file, <serving stem>.activation.duckdb)",
    )
    command.add_argument(
        "--audience",
        action="append",
        default=None,
        help="export only this audience_id, repeatable (default: every active audience)",
    )
    command.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from segwarehouse import publish
    from segwarehouse.activation import export_audiences, export_dir_from_env

    settings = Settings.from_env()
    serving = from_root(settings, args.serving) if args.serving else publish.serving_path(settings)
    activation = from_root(settings, args.activation) if args.activation else None
    out_dir = (
        from_root(settings, args.out) if args.out else export_dir_from_env(settings.project_dir)
    )
    try:
        result = export_audiences(
            serving, out_dir, fmt=args.format, audience_ids=args.audience, activation=activation
        )
    except publish.BusyFile as error:
        print(f"segwarehouse export: {error}", file=sys.stderr)
        return publish.EXIT_LOCKED
    for file in result.files:
        change = (
            "replace the list"
            if file.replace_list
            else f"+{file.additions.row_count:,} -{file.removals.row_count:,}"
        )
        print(f"  {file.file:<56} {file.row_count:>10,} rows ({change})")
    since = f", changes since run {result.previous_run_id}" if result.previous_run_id else ""
    print(
        f"manifest: {result.manifest} (as_of_date {result.as_of_date}, run_id {result.run_id}"
        f"{since})"
    )
    for blocked in result.blocked:
        print(f"  {blocked['audience_id']:<56} not exported: {blocked['detail']}")
    if result.pruned:
        names = ", ".join(folder.name for folder in result.pruned)
        print(f"deleted {len(result.pruned)} older export folder(s): {names}")
    return 0
