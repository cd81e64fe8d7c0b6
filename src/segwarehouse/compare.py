"""Compare the tables two warehouse files share, row for row.

For a one-day refresh against a full build of the same data, or any two builds: every table
of the chosen schemas that both files hold is compared on the columns both have, minus the
ones that say when or from which file a build ran (run stamps, landing-file paths), with
doubles rounded to 9 digits (summation order). EXCEPT ALL both ways, so a repeated row counts.
Tables on one side only are listed too.

    python -m segwarehouse.compare --left data/bench/c1000000/warehouse.duckdb \\
        --right data/bench/c1000000/refresh/warehouse.duckdb --json /tmp/compare.json

Prints a markdown table; exit 0 when every shared table is equal and none is on one side
only, 1 when not, 2 on bad arguments (a missing file).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

DEFAULT_SCHEMAS = ("staging", "intermediate", "marts")
# Columns that differ between two builds of the same data by construction: when dbt ran,
# which landing file a row came from (the raw record's JSON holds that path too), when a
# model was fitted.
RUN_COLUMNS = (
    "batch_run_started_at",
    "run_started_at",
    "invocation_id",
    "landing_file",
    "raw_record",
    "trained_at",
    "fitted_at",
)
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


@dataclass(frozen=True)
class TableComparison:
    """One table on both sides: row counts and rows found on one side only."""

    table: str
    left_rows: int
    right_rows: int
    only_left: int
    only_right: int
    columns: int
    excluded: tuple[str, ...]
    seconds: float
    left_only_columns: tuple[str, ...] = ()
    right_only_columns: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        """Same columns, and the same rows as many times each."""
        return (
            self.only_left == 0
            and self.only_right == 0
            and not self.left_only_columns
            and not self.right_only_columns
        )


@dataclass(frozen=True)
class Comparison:
    """Every shared table compared, and the tables only one side has."""

    tables: tuple[TableComparison, ...]
    only_in_left: tuple[str, ...]
    only_in_right: tuple[str, ...]

    @property
    def equal(self) -> bool:
        """Every shared table equal and none on one side only."""
        return (
            all(table.equal for table in self.tables)
            and not self.only_in_left
            and not self.only_in_right
        )


def compare_warehouses(
    left: Path,
    right: Path,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    excluded: Sequence[str] = RUN_COLUMNS,
    threads: int = 2,
    memory_limit: str = "5GB",
    progress: Callable[[str], None] = lambda _line: None,
) -> Comparison:
    """Compare every table of `schemas` in the two files (both opened read-only). Spill goes
    to a temporary folder, removed afterwards (EXCEPT ALL over 52M web events spills ~25 GB
    at memory_limit 5GB)."""
    with (
        tempfile.TemporaryDirectory(prefix="segwarehouse-compare-") as spill,
        duckdb.connect() as con,
    ):
        con.execute(f"set threads = {int(threads)}")
        con.execute("set memory_limit = ?", [memory_limit])
        con.execute("set temp_directory = ?", [spill])
        con.execute("attach ? as left_side (read_only)", [str(left)])
        con.execute("attach ? as right_side (read_only)", [str(right)])
        left_tables = _tables(con, "left_side", schemas)
        right_tables = _tables(con, "right_side", schemas)
        compared = []
        for table in sorted(left_tables & right_tables):
            result = compare_table(con, table, excluded)
            compared.append(result)
            outcome = "equal" if result.equal else "DIFFERENT"
            progress(f"{table}: {outcome} ({result.seconds:.1f} s)")
    return Comparison(
        tables=tuple(compared),
        only_in_left=tuple(sorted(left_tables - right_tables)),
        only_in_right=tuple(sorted(right_tables - left_tables)),
    )


@dataclass(frozen=True)
class Relation:
    """A table of an attached catalog (a temporary table is catalog "temp", schema "main")."""

    catalog: str
    schema: str
    name: str

    @property
    def sql(self) -> str:
        """The quoted three-part name."""
        return f'"{self.catalog}"."{self.schema}"."{self.name}"'


def compare_table(
    con: duckdb.DuckDBPyConnection, table: str, excluded: Sequence[str] = RUN_COLUMNS
) -> TableComparison:
    """`table` (schema.name) of the attached `left_side` and `right_side`, EXCEPT ALL both ways
    on the columns both have; a column on one side only makes the table unequal."""
    schema, name = table.split(".")
    return compare_relations(
        con,
        Relation("left_side", schema, name),
        Relation("right_side", schema, name),
        excluded,
        label=table,
    )


def compare_relations(
    con: duckdb.DuckDBPyConnection,
    left: Relation,
    right: Relation,
    excluded: Sequence[str] = RUN_COLUMNS,
    label: str | None = None,
) -> TableComparison:
    """Two relations EXCEPT ALL both ways on the columns both have, in the left's order,
    doubles rounded to 9 digits; a column on one side only makes them unequal."""
    started = time.perf_counter()
    left_columns = _columns(con, left)
    right_columns = dict(_columns(con, right))
    left_names = {name for name, _kind in left_columns}
    kept = [
        (name, kind)
        for name, kind in left_columns
        if name in right_columns and name not in excluded
    ]
    table = label or f"{left.schema}.{left.name}"
    if not kept:
        raise ValueError(f"{table}: no column to compare on both sides (excluded: {excluded})")
    skipped = tuple(
        name for name, _kind in left_columns if name in excluded and name in right_columns
    )
    projection = ", ".join(
        f'round("{name}", 9)' if kind in FLOAT_TYPES else f'"{name}"' for name, kind in kept
    )
    left_sql = f"select {projection} from {left.sql}"
    right_sql = f"select {projection} from {right.sql}"
    [(left_rows, right_rows)] = con.execute(
        f"select (select count(*) from {left.sql}), (select count(*) from {right.sql})"
    ).fetchall()
    [(only_left,)] = con.execute(
        f"select count(*) from ({left_sql} except all {right_sql})"
    ).fetchall()
    [(only_right,)] = con.execute(
        f"select count(*) from ({right_sql} except all {left_sql})"
    ).fetchall()
    return TableComparison(
        table=table,
        left_rows=int(left_rows),
        right_rows=int(right_rows),
        only_left=int(only_left),
        only_right=int(only_right),
        columns=len(kept),
        excluded=skipped,
        seconds=round(time.perf_counter() - started, 3),
        left_only_columns=tuple(name for name, _kind in left_columns if name not in right_columns),
        right_only_columns=tuple(name for name in right_columns if name not in left_names),
    )


def render_markdown(comparison: Comparison) -> str:
    """One row per shared table, then the tables on one side only."""
    lines = [
        "| table | left rows | right rows | only left | only right | equal |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for table in comparison.tables:
        lines.append(
            f"| {table.table} | {table.left_rows:,} | {table.right_rows:,} "
            f"| {table.only_left:,} | {table.only_right:,} | {'yes' if table.equal else '**no**'} |"
        )
    for table in comparison.tables:
        for side, columns in (
            ("left", table.left_only_columns),
            ("right", table.right_only_columns),
        ):
            if columns:
                lines.append(f"\n{table.table}: columns only in {side}: {', '.join(columns)}")
    for side, tables in (("left", comparison.only_in_left), ("right", comparison.only_in_right)):
        if tables:
            lines.append(f"\nOnly in {side}: {', '.join(tables)}")
    return "\n".join(lines)


def _tables(con: duckdb.DuckDBPyConnection, catalog: str, schemas: Sequence[str]) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_catalog = ? and table_schema in (select unnest(?))"
        " and table_type = 'BASE TABLE'",
        [catalog, list(schemas)],
    ).fetchall()
    return {row[0] for row in rows}


def _columns(con: duckdb.DuckDBPyConnection, relation: Relation) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = ? and table_schema = ? and table_name = ?"
        " order by ordinal_position",
        [relation.catalog, relation.schema, relation.name],
    ).fetchall()
    if not rows:
        raise ValueError(f"{relation.sql}: no such table, or it has no columns")
    return [(str(column), str(kind)) for column, kind in rows]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: compare two warehouse files; exit 0 equal, 1 not, 2 bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m segwarehouse.compare",
        description="Compare the tables two warehouse files share, row for row.",
    )
    parser.add_argument("--left", type=Path, required=True, help="first warehouse file")
    parser.add_argument("--right", type=Path, required=True, help="second warehouse file")
    parser.add_argument(
        "--schema",
        action="append",
        help=f"schema to compare (repeat; default {' '.join(DEFAULT_SCHEMAS)})",
    )
    parser.add_argument(
        "--exclude-column",
        action="append",
        help=f"column left out of every table (repeat; default {' '.join(RUN_COLUMNS)})",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="5GB")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    for path in (args.left, args.right):
        if not path.is_file():
            print(f"segwarehouse.compare: no warehouse file at {path}", file=sys.stderr)
            return 2
    comparison = compare_warehouses(
        args.left,
        args.right,
        schemas=args.schema or DEFAULT_SCHEMAS,
        excluded=args.exclude_column or RUN_COLUMNS,
        threads=args.threads,
        memory_limit=args.memory_limit,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(render_markdown(comparison))
    if args.json:
        payload = {
            "left": str(args.left),
            "right": str(args.right),
            "equal": comparison.equal,
            "tables": [{**asdict(table), "equal": table.equal} for table in comparison.tables],
            "only_in_left": comparison.only_in_left,
            "only_in_right": comparison.only_in_right,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if comparison.equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
