"""`segwarehouse run | refresh | summary`: the scheduled job (build, audit, publish), summary."""

from __future__ import annotations

import argparse
import os
import sys
import time

from segwarehouse.cli.common import (
    DEMO_CUSTOMERS,
    DEMO_SEED,
    add_as_of_date_argument,
    add_docs_dir_argument,
    add_gate_arguments,
    positive_int,
    resolve_docs_dir,
    today,
)
from segwarehouse.cli.generate import generate_command
from segwarehouse.settings import (
    DEFAULT_RAW_DIR,
    SYNTHETIC_MANIFEST,
    Settings,
    landing_files,
    synthetic_files,
)
from segwarehouse.warehouse import reconciliation, table_counts


def add_run(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "run",
        help="build, check and publish the warehouse (with --demo: demo data first if the "
        "repository's data/raw is empty)",
        description="The same write-audit-publish job as `segwarehouse refresh`: dbt build "
        "(seeds, models, tests) into the work warehouse, the GX suites and volume checks, and "
        "only if all pass the atomic swap of the serving file BI tools read; then prints where "
        "the marts are. An empty or missing landing folder is an error; only with --demo, and "
        "only in the repository's own data/raw (SEGMENTS_RAW_DIR unset), demo data is generated "
        "first (what `make run` does). Exit codes as refresh: 0 published, 3 audit failed or "
        "refused, 4 locked, 5 stale source, 1 error; 2 bad arguments or no landing files.",
        epilog="Examples:\n  segwarehouse run --demo\n  segwarehouse run --as-of-date 2026-01-31\n"
        "  SEGMENTS_RAW_DIR=~/exports segwarehouse run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_as_of_date_argument(command)
    command.add_argument(
        "--demo",
        action="store_true",
        help="when the repository's data/raw holds no landing file, generate demo data into it "
        "first (never into a folder set with SEGMENTS_RAW_DIR)",
    )
    command.add_argument(
        "--demo-customers",
        type=positive_int,
        default=DEMO_CUSTOMERS,
        help="people in generated demo data (default %(default)s)",
    )
    add_gate_arguments(command)
    add_docs_dir_argument(command)
    command.set_defaults(handler=_run, skip_build=False)


def add_summary(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "summary",
        help="print the built tables, their row counts and the staging reconciliation",
        epilog="Example:\n  segwarehouse summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(handler=_summary)


def add_refresh(commands: argparse._SubParsersAction) -> None:

    command = commands.add_parser(
        "refresh",
        help="write-audit-publish: build, test and check, then atomically swap the serving file",
        description="dbt build into the work warehouse ($SEGMENTS_WAREHOUSE), run the GX suites "
        "and the volume checks there, and only if all pass copy the marts and audit schemas "
        "into a new file and os.replace it over the serving file ($SEGMENTS_SERVING, default "
        "warehouse/serving.duckdb). Never generates data: an empty or missing landing folder "
        "is an error (exit 2). Exit codes: 0 published, 3 audit failed or refused (serving "
        "file untouched), 4 another refresh or process holds a lock (one line with its pid), "
        "5 a required source is stale (one line naming it and its age; --allow-stale "
        "publishes anyway), 1 an error.",
        epilog="Examples:\n  segwarehouse refresh --as-of-date 2026-06-30\n"
        "  SEGMENTS_SERVING=/srv/segments.duckdb segwarehouse refresh --max-quarantine-rate 0.02",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_as_of_date_argument(command)
    add_gate_arguments(command)
    add_docs_dir_argument(command)
    command.add_argument(
        "--skip-build",
        action="store_true",
        help="audit and publish the work warehouse as it is (no dbt build); refused when the "
        "last build by refresh failed, had failing tests or did not finish",
    )
    command.set_defaults(handler=refresh_command)


def _run(args: argparse.Namespace) -> int:
    from segwarehouse.publish import EXIT_LOCKED

    settings = Settings.from_env()
    if args.demo and not landing_files(settings.raw_dir) and _is_repository_raw_dir(settings):
        print(
            f"{settings.raw_dir} holds no raw files: generating demo data "
            f"({args.demo_customers:,} customers, marked in {SYNTHETIC_MANIFEST})"
        )
        generate_command(
            argparse.Namespace(
                customers=args.demo_customers,
                seed=DEMO_SEED,
                out=settings.raw_dir,
                truth_dir=settings.truth_dir,
                end_date=args.as_of_date or today(),
                format="csv",
                threads=int(os.environ.get("SEGMENTS_DUCKDB_THREADS", "2")),
                memory_limit=os.environ.get("SEGMENTS_MEMORY_LIMIT", "4GB"),
            )
        )
    started = time.perf_counter()
    code = refresh_command(args)
    print(f"\nrefresh finished in {time.perf_counter() - started:.0f}s with exit code {code}")
    if settings.warehouse.is_file() and code != EXIT_LOCKED:  # locked: the file is busy too
        _summary(args)
    return code


def _is_repository_raw_dir(settings: Settings) -> bool:
    """The landing folder is the repository's own data/raw, not one the user set."""
    return settings.raw_dir == (settings.project_dir / DEFAULT_RAW_DIR).resolve()


def _require_landing(settings: Settings) -> None:
    """A build needs landing files: an empty or missing landing folder is an error naming it."""
    if landing_files(settings.raw_dir):
        return
    state = "does not exist" if not settings.raw_dir.exists() else "holds no landing file"
    raise FileNotFoundError(
        f"landing folder {settings.raw_dir} {state} (the contract files: "
        "docs/raw_data_contract.md); check SEGMENTS_RAW_DIR, or for demo data run `make run` "
        f"(repository's data/raw only) or `segwarehouse generate --out {settings.raw_dir}`"
    )


def _summary(_args: argparse.Namespace) -> int:
    from segwarehouse.locks import BusyFile, busy_file
    from segwarehouse.publish import EXIT_LOCKED

    settings = Settings.from_env()
    if not settings.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `make run` first")
    try:
        with busy_file("a build is writing it (a refresh or dbt); run summary after it"):
            _print_summary(settings)
    except BusyFile as error:
        print(f"segwarehouse summary: {error}", file=sys.stderr)
        return EXIT_LOCKED
    return 0


def _print_summary(settings: Settings) -> None:
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


def refresh_command(args: argparse.Namespace) -> int:
    from segwarehouse import freshness, publish

    settings = Settings.from_env()
    serving = publish.serving_path(settings)
    work = settings.warehouse
    work.parent.mkdir(parents=True, exist_ok=True)
    dbt_vars = {"as_of_date": args.as_of_date.isoformat()} if args.as_of_date else None
    if not args.skip_build:
        _require_landing(settings)

    def build() -> list[str]:
        # A separate process: dbt-duckdb keeps its DuckDB instance open for the life of the
        # process, and the audit and publish steps must open the work file themselves.
        return publish.dbt_build_subprocess(settings.project_dir, dbt_vars)

    config = publish.GateConfig(
        max_quarantine_rate=args.max_quarantine_rate,
        max_row_drop=args.max_row_drop,
        max_source_growth=args.max_source_growth,
        max_source_drop=args.max_source_drop,
    )
    synthetic = bool(synthetic_files(settings.raw_dir))
    # Demo data has no upstream feed that could stop: its age is reported, never refused.
    allow_stale = args.allow_stale or synthetic
    try:
        code, record = publish.refresh(
            work,
            serving,
            args.as_of_date,
            None if args.skip_build else build,
            docs_dir=resolve_docs_dir(settings, args.docs_dir),
            config=config,
            synthetic=synthetic,
            # --skip-build publishes the last build as it is: the landing folder may have
            # changed since, so its freshness says nothing about what is published.
            freshness=None
            if args.skip_build
            else freshness.gate(settings.project_dir, work, dbt_vars, allow_stale),
        )
    except (publish.RefreshLocked, publish.BusyFile) as error:
        print(f"segwarehouse refresh: {error}", file=sys.stderr)
        return publish.EXIT_LOCKED
    except Exception as error:
        print(f"segwarehouse refresh: error: {error}", file=sys.stderr)
        return publish.EXIT_ERROR
    synthetic = ", synthetic demo data" if record.synthetic else ""
    print(
        f"run record: {serving.name}.runs.jsonl (run_id {record.run_id}, {record.status}"
        f"{synthetic})"
    )
    return code
