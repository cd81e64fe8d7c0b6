"""Run the hand-written identity floor once, time it, and check it equals dbt's identity tables.

benchmarks/identity_baseline.sql computes int_identity_resolved_nodes and
int_identity_record_keys from the inputs of the dbt identity layer (staging views, seeds and
Splink's links) of a built warehouse. This runner opens a fresh DuckDB database (deleted
first) with the given threads and memory_limit, attaches the warehouse READ_ONLY as `wh`,
runs the script's first part, labels the components with
segwarehouse.identity.components (scipy, as the dbt model does), runs the second part, and
compares both tables with wh.intermediate's (segwarehouse.compare: EXCEPT ALL both ways, every
column, doubles rounded to 9 digits). It prints the result as JSON (and writes it to --json)
and exits 0 when both tables are equal, 1 when not. Peak memory is for the caller to measure.

Example, on the warehouse `dbt build` made (profiles.yml default path):

    .venv/bin/python benchmarks/identity_baseline.py \\
        --warehouse warehouse/segments.duckdb --database /tmp/identity_baseline.duckdb \\
        --json /tmp/identity_baseline.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

# The fresh-database opener of the features floor, so both floors run with the same settings
# (this folder is on sys.path when a runner is run as a script).
from features_rfm_baseline import connect

from segwarehouse.compare import Relation, compare_relations
from segwarehouse.identity.components import resolve_components_in_duckdb
from segwarehouse.sqltext import sql_literal

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "benchmarks" / "identity_baseline.sql"
TABLES = ("int_identity_resolved_nodes", "int_identity_record_keys")
SPLIT = "-- @components"
JUNK_PLACEHOLDER = "/* junk pattern case */"
EDGES_SQL = (
    "select node_id_a, node_id_b, match_method, first_record_type from edges "
    "union all "
    "select node_id_a, node_id_b, match_method, first_record_type "
    "from wh.intermediate.int_identity_probabilistic_links"
)


def default_max_component_size(project_dir: Path = PROJECT_DIR) -> int:
    """var identity__max_component_size from dbt_project.yml."""
    defaults = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(defaults["vars"]["identity__max_component_size"])


def junk_pattern_case(con: duckdb.DuckDBPyConnection) -> str:
    """One CASE over identifier types, each with its junk alternation as a literal regex."""
    rows = con.execute(
        "select identifier_type, string_agg('(' || pattern || ')', '|' order by pattern) "
        "from wh.reference.junk_identifiers where match_type = 'regex' "
        "group by identifier_type order by identifier_type"
    ).fetchall()
    if not rows:
        return "cast(null as boolean)"
    whens = " ".join(
        f"when {sql_literal(kind)} then regexp_matches(g.identifier_value, {sql_literal(pattern)})"
        for kind, pattern in rows
    )
    return f"case g.identifier_type {whens} end"


def script_parts(script: Path, junk_case: str) -> tuple[str, str]:
    """The script's two parts, the junk CASE filled in."""
    text = script.read_text(encoding="utf-8")
    if text.count(SPLIT) != 1 or text.count(JUNK_PLACEHOLDER) != 1:
        raise SystemExit(f"{script}: expected one '{SPLIT}' line and one '{JUNK_PLACEHOLDER}'.")
    before, after = text.replace(JUNK_PLACEHOLDER, junk_case).split(SPLIT)
    return before, after


def run_script(con: duckdb.DuckDBPyConnection, script: Path, max_size: int) -> dict[str, float]:
    """Wall seconds of the three steps (the pattern look-up counts in the first)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    before, after = script_parts(script, junk_pattern_case(con))
    con.execute(before)
    seconds["graph_sql"] = time.perf_counter() - started
    started = time.perf_counter()
    components = resolve_components_in_duckdb(
        con, "select node_id from nodes where forms_edges", EDGES_SQL, max_size
    )
    components.create("components")
    seconds["components"] = time.perf_counter() - started
    started = time.perf_counter()
    con.execute(after)
    seconds["keys_sql"] = time.perf_counter() - started
    return seconds


def compare(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """Row counts and rows only on one side (EXCEPT ALL over the columns both have, in dbt's
    order; segwarehouse.compare). The script's tables are temporary, named without the
    `int_identity_` prefix."""
    result = compare_relations(
        con,
        Relation("wh", "intermediate", table),
        Relation("temp", "main", table.removeprefix("int_identity_")),
        excluded=(),
        label=table,
    )
    return {
        "rows": {"baseline": result.right_rows, "dbt": result.left_rows},
        "only_in_dbt": result.only_left,
        "only_in_baseline": result.only_right,
        "column_mismatches": {
            "missing": list(result.left_only_columns),
            "extra": list(result.right_only_columns),
        },
        "equal": result.equal,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run, time and check the baseline; the JSON result."""
    max_size = args.max_component_size or default_max_component_size()
    with connect(args.database, args.threads, args.memory_limit) as con:
        con.execute("attach ? as wh (read_only)", [str(args.warehouse)])
        steps = run_script(con, args.script, max_size)
        tables = {table: compare(con, table) for table in TABLES}
    return {
        "seconds": round(sum(steps.values()), 3),
        "step_seconds": {name: round(value, 3) for name, value in steps.items()},
        "max_component_size": max_size,
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "tables": tables,
        "equal": all(result["equal"] for result in tables.values()),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a built dbt warehouse")
    parser.add_argument("--database", type=Path, required=True, help="fresh file for the floor")
    parser.add_argument("--script", type=Path, default=SCRIPT)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument(
        "--max-component-size",
        type=int,
        default=None,
        help="default: var identity__max_component_size in dbt_project.yml",
    )
    parser.add_argument("--json", type=Path, help="also write the result here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the floor equals dbt's tables, 1 when it does not."""
    args = parse_args(argv)
    if not args.warehouse.is_file():
        print(f"no warehouse at {args.warehouse}: build it first (dbt build).", file=sys.stderr)
        return 2
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
