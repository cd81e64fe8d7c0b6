"""`segwarehouse dashboard report | build | serve`: the dashboard over the serving file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segwarehouse.cli.common import from_root, positive_int, print_progress
from segwarehouse.settings import (
    Settings,
)


def add_dashboard(commands: argparse._SubParsersAction) -> None:
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
    add_dashboard_arguments(build)
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
    add_dashboard_arguments(serve)
    serve.add_argument(
        "--port", type=int, default=8050, help="port (default %(default)s; 0 = any free port)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default %(default)s, this machine only)",
    )
    serve.set_defaults(handler=_dashboard_serve)


def add_dashboard_arguments(command: argparse.ArgumentParser) -> None:
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
        type=positive_int,
        default=5000,
        help="buyers drawn in the cluster scatter, a seeded sample (default %(default)s)",
    )


def _dashboard_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    from segwarehouse import publish

    settings = Settings.from_env()
    warehouse = (
        from_root(settings, args.warehouse) if args.warehouse else publish.serving_path(settings)
    )
    if not warehouse.is_file():
        raise FileNotFoundError(
            f"no warehouse at {warehouse}: run `segwarehouse run` (or refresh) first, "
            "or pass --warehouse"
        )
    return warehouse, from_root(settings, args.out)


def _dashboard_report(args: argparse.Namespace) -> int:
    import duckdb

    from segwarehouse.dashboard import Options, build_report

    warehouse, out_dir = _dashboard_paths(args)
    try:
        report = build_report(
            warehouse,
            out_dir,
            Options(scatter_sample=args.scatter_sample),
            progress=print_progress,
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
