"""Command line: `segwarehouse generate | doctor | run | summary | bench | check | refresh |
export | keygen | dashboard`."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from segwarehouse.settings import (
    DEFAULT_RAW_DIR,
    SYNTHETIC_MANIFEST,
    Settings,
    landing_files,
    synthetic_files,
)
from segwarehouse.warehouse import reconciliation, table_counts

DEMO_CUSTOMERS = 10_000
DEMO_SEED = 42


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
    _add_generate(commands)
    _add_doctor(commands)
    _add_run(commands)
    _add_summary(commands)
    _add_bench(commands)
    _add_check(commands)
    _add_refresh(commands)
    _add_export(commands)
    _add_keygen(commands)
    _add_dashboard(commands)
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
    command.add_argument(
        "--threads",
        type=_positive_int,
        default=int(os.environ.get("SEGMENTS_DUCKDB_THREADS", "2")),
        help="DuckDB threads (default $SEGMENTS_DUCKDB_THREADS or 2); the files do not depend "
        "on it",
    )
    command.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default=os.environ.get("SEGMENTS_MEMORY_LIMIT", "4GB"),
        help="DuckDB memory_limit (default $SEGMENTS_MEMORY_LIMIT or 4GB); beyond it the "
        "generator spills to $TMPDIR (at 5M customers, 4GB spilled more than 38 GB); the "
        "files do not depend on it",
    )
    command.set_defaults(handler=_generate)


def _add_doctor(commands: argparse._SubParsersAction) -> None:
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


def _add_run(commands: argparse._SubParsersAction) -> None:
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
    command.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="build as of this day, YYYY-MM-DD (default today, UTC)",
    )
    command.add_argument(
        "--demo",
        action="store_true",
        help="when the repository's data/raw holds no landing file, generate demo data into it "
        "first (never into a folder set with SEGMENTS_RAW_DIR)",
    )
    command.add_argument(
        "--demo-customers",
        type=_positive_int,
        default=DEMO_CUSTOMERS,
        help="people in generated demo data (default %(default)s)",
    )
    _add_gate_arguments(command)
    _add_docs_dir_argument(command)
    command.set_defaults(handler=_run, skip_build=False)


def _add_summary(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "summary",
        help="print the built tables, their row counts and the staging reconciliation",
        epilog="Example:\n  segwarehouse summary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(handler=_summary)


def _add_bench(commands: argparse._SubParsersAction) -> None:
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
        type=_positive_int,
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
        type=_positive_int,
        default=int(os.environ.get("SEGMENTS_DUCKDB_THREADS", "2")),
        help="DuckDB threads (default $SEGMENTS_DUCKDB_THREADS or 2)",
    )
    command.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default=os.environ.get("SEGMENTS_MEMORY_LIMIT", "8GB"),
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


def _add_check(commands: argparse._SubParsersAction) -> None:
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


def _add_refresh(commands: argparse._SubParsersAction) -> None:

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
    command.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="build as of this day, YYYY-MM-DD (default today, UTC)",
    )
    _add_gate_arguments(command)
    _add_docs_dir_argument(command)
    command.add_argument(
        "--skip-build",
        action="store_true",
        help="audit and publish the work warehouse as it is (no dbt build); refused when the "
        "last build by refresh failed, had failing tests or did not finish",
    )
    command.set_defaults(handler=_refresh)


def _add_dashboard(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "dashboard",
        help="dashboard: build the static HTML pages, or build and serve them",
        description="Two static HTML pages (plotly, works offline) over the published marts: "
        "index.html for marketing (KPI tiles vs the previous run, revenue trend, segment "
        "sizes, audience funnel, next best actions, experiment results; filters by segment "
        "and date) and details.html (last publish and last failure, data quality, the "
        "analysis charts); panels whose mart is not in the warehouse say so. The warehouse "
        "is opened read-only. See docs/dashboard.md.",
        epilog="Examples:\n  segwarehouse dashboard build\n"
        "  segwarehouse dashboard serve --port 8050        # then open http://127.0.0.1:8050/\n"
        "  segwarehouse dashboard build --warehouse warehouse/segments.duckdb --out /tmp/dash",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = command.add_subparsers(dest="action", required=True)
    build = actions.add_parser(
        "build",
        help="write <out>/index.html and details.html (self-contained) from the warehouse",
        description="Render the overview and every section from the warehouse into two "
        "self-contained HTML files (plotly.js inlined; publish them anywhere). Exit codes: 0 "
        "written, 1 a panel failed (the pages are still written, with the error in that "
        "panel), 2 no warehouse.",
        epilog="Examples:\n  segwarehouse dashboard build\n"
        "  segwarehouse dashboard build --out /var/www/segments --scatter-sample 2000\n"
        "  SEGMENTS_SERVING=/srv/segments.duckdb segwarehouse dashboard build",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dashboard_arguments(build)
    build.set_defaults(handler=_dashboard_build)
    serve = actions.add_parser(
        "serve",
        help="build the report, then serve it on localhost (rebuilt when the warehouse changes)",
        description="Build the report and serve its folder with Python's http.server. The page "
        "is rebuilt on the next request after the warehouse file changes (a refresh swapped "
        "it); between builds no database connection is held. Ctrl-C stops it.",
        epilog="Examples:\n  segwarehouse dashboard serve\n"
        "  segwarehouse dashboard serve --port 9000 --host 0.0.0.0\n"
        "  segwarehouse dashboard serve --warehouse warehouse/segments.duckdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_dashboard_arguments(serve)
    serve.add_argument(
        "--port", type=int, default=8050, help="port (default %(default)s; 0 = any free port)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default %(default)s, this machine only)",
    )
    serve.set_defaults(handler=_dashboard_serve)


def _add_dashboard_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="DuckDB file to read (default $SEGMENTS_SERVING or warehouse/serving.duckdb, the "
        "published copy; the work warehouse works too)",
    )
    command.add_argument(
        "--out",
        type=Path,
        default=Path("target/dashboard"),
        help="folder for index.html (default %(default)s)",
    )
    command.add_argument(
        "--scatter-sample",
        type=_positive_int,
        default=5000,
        help="buyers drawn in the cluster scatter, a seeded sample (default %(default)s)",
    )


def _add_gate_arguments(command: argparse.ArgumentParser) -> None:
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


def _add_docs_dir_argument(command: argparse.ArgumentParser) -> None:
    """Where the audit writes GX Data Docs (run and refresh)."""
    command.add_argument(
        "--docs-dir",
        type=Path,
        default=None,
        help="Data Docs folder of the audit (default target/data_docs; open index.html)",
    )


def _add_export(commands: argparse._SubParsersAction) -> None:
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


def _generate(args: argparse.Namespace) -> int:
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
        progress=_print_progress,
    )
    print(f"wrote {args.out} and {args.truth_dir} in {summary.total_seconds:.1f}s")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from segwarehouse.doctor import run_command

    settings = Settings.from_env()
    raw_dir = _from_root(settings, args.raw_dir) if args.raw_dir else settings.raw_dir
    return run_command(
        raw_dir, settings.project_dir, args.vars, args.json, args.max_quarantine_rate
    )


def _run(args: argparse.Namespace) -> int:
    from segwarehouse.publish import EXIT_LOCKED

    settings = Settings.from_env()
    if args.demo and not landing_files(settings.raw_dir) and _is_repository_raw_dir(settings):
        print(
            f"{settings.raw_dir} holds no raw files: generating demo data "
            f"({args.demo_customers:,} customers, marked in {SYNTHETIC_MANIFEST})"
        )
        _generate(
            argparse.Namespace(
                customers=args.demo_customers,
                seed=DEMO_SEED,
                out=settings.raw_dir,
                truth_dir=settings.truth_dir,
                end_date=args.as_of_date or _today(),
                format="csv",
                threads=int(os.environ.get("SEGMENTS_DUCKDB_THREADS", "2")),
                memory_limit=os.environ.get("SEGMENTS_MEMORY_LIMIT", "4GB"),
            )
        )
    started = time.perf_counter()
    code = _refresh(args)
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
    data = run_bench(config, progress=_print_progress)
    print(f"wrote {config.report} and {config.json_path}")
    failed = [
        scale["customers"]
        for scale in data["scales"]
        if not (scale["dbt"]["success"] and scale["baseline"]["success"])
    ]
    return 1 if failed else 0


def _check(args: argparse.Namespace) -> int:
    from segwarehouse.quality import run_checks

    settings = Settings.from_env()
    warehouse = _from_root(settings, args.warehouse) if args.warehouse else settings.warehouse
    if not warehouse.is_file():
        print(f"segwarehouse check: error: no warehouse at {warehouse}", file=sys.stderr)
        return 1
    docs_dir = _docs_dir(settings, args.docs_dir)
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


def _refresh(args: argparse.Namespace) -> int:
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
            docs_dir=_docs_dir(settings, args.docs_dir),
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


def _export(args: argparse.Namespace) -> int:
    from segwarehouse import publish
    from segwarehouse.activation import export_audiences, export_dir_from_env

    settings = Settings.from_env()
    serving = _from_root(settings, args.serving) if args.serving else publish.serving_path(settings)
    activation = _from_root(settings, args.activation) if args.activation else None
    out_dir = (
        _from_root(settings, args.out) if args.out else export_dir_from_env(settings.project_dir)
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


def _add_keygen(commands: argparse._SubParsersAction) -> None:
    from segwarehouse.settings import PSEUDONYM_KEY_ENV

    command = commands.add_parser(
        "keygen",
        help="write a new secret key for the published pseudonyms (HMAC)",
        description="Write 32 random bytes as hex to PATH (mode 0600; an existing file is "
        f"never overwritten). Point {PSEUDONYM_KEY_ENV} at it. Keep it outside the repository "
        "and backed up: a new key changes every published pseudonym (docs/privacy.md).",
        epilog="Example:\n  segwarehouse keygen ~/.config/segwarehouse/pseudonym.key\n"
        f"  export {PSEUDONYM_KEY_ENV}=~/.config/segwarehouse/pseudonym.key",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("path", type=Path, help="the key file to create")
    command.set_defaults(handler=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    from segwarehouse.settings import PSEUDONYM_KEY_ENV, write_pseudonym_key

    path = args.path.expanduser().resolve()
    try:
        write_pseudonym_key(path)
    except FileExistsError:
        print(f"segwarehouse keygen: {path} exists; not overwritten", file=sys.stderr)
        return 2
    print(f"wrote a new pseudonym key to {path}; now: export {PSEUDONYM_KEY_ENV}={path}")
    return 0


def _dashboard_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    from segwarehouse import publish

    settings = Settings.from_env()
    warehouse = (
        _from_root(settings, args.warehouse) if args.warehouse else publish.serving_path(settings)
    )
    if not warehouse.is_file():
        raise FileNotFoundError(
            f"no warehouse at {warehouse}: run `segwarehouse run` (or refresh) first, "
            "or pass --warehouse"
        )
    return warehouse, _from_root(settings, args.out)


def _dashboard_report(args: argparse.Namespace) -> int:
    import duckdb

    from segwarehouse.dashboard import Options, build_report

    warehouse, out_dir = _dashboard_paths(args)
    try:
        report = build_report(
            warehouse,
            out_dir,
            Options(scatter_sample=args.scatter_sample),
            progress=_print_progress,
        )
    except duckdb.Error as error:  # e.g. a dbt build holds the work warehouse's write lock
        print(f"segwarehouse dashboard: cannot read {warehouse}: {error}", file=sys.stderr)
        return 2
    for line in report.summary_lines():
        print(line, flush=True)
    return 1 if report.failed else 0


def _dashboard_build(args: argparse.Namespace) -> int:
    return _dashboard_report(args)


def _dashboard_serve(args: argparse.Namespace) -> int:
    from segwarehouse.dashboard.server import make_server, stale_rebuilder

    warehouse, out_dir = _dashboard_paths(args)
    if _dashboard_report(args) == 2:
        return 2
    refresh = stale_rebuilder(warehouse, out_dir, lambda: _dashboard_report(args))
    server = make_server(out_dir, args.host, args.port, refresh)
    host, port = server.server_address[:2]
    print(f"serving {out_dir} on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0


def _from_root(settings: Settings, path: Path) -> Path:
    return path if path.is_absolute() else settings.project_dir / path


def _docs_dir(settings: Settings, docs_dir: Path | None) -> Path:
    """--docs-dir of check, run and refresh: default target/data_docs, from the project root."""
    return _from_root(settings, docs_dir or Path("target/data_docs"))


def _print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


_MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def _memory_limit(text: str) -> str:
    """A DuckDB memory_limit: a number and a unit (4GB, 512MiB)."""
    if not _MEMORY_LIMIT.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a memory size: give a number and a unit, e.g. 4GB or 512MiB"
        )
    return text.strip()


def _today() -> date:
    return datetime.now(UTC).date()


if __name__ == "__main__":
    raise SystemExit(main())
