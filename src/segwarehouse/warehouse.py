"""Read-only views of a built warehouse, for the command line's summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

PUBLIC_SCHEMAS = ("marts", "audit")


@dataclass(frozen=True)
class TableCount:
    """A table and its row count."""

    schema: str
    name: str
    rows: int


def table_counts(warehouse: Path, schemas: tuple[str, ...] = PUBLIC_SCHEMAS) -> list[TableCount]:
    """Row counts of every table in the given schemas."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in (select unnest(?)) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        return [TableCount(schema, name, _count(con, schema, name)) for schema, name in tables]


def reconciliation(warehouse: Path) -> list[tuple]:
    """Rows of audit.source_reconciliation: source, then raw and per-disposition counts."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select source_name, raw_rows, staged_rows, quarantined_rows, duplicate_rows, "
            "superseded_rows, not_yet_visible_rows from audit.source_reconciliation "
            "order by source_name"
        ).fetchall()


def _count(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int:
    row = con.execute(f'select count(*) from "{schema}"."{name}"').fetchall()
    return int(row[0][0])
