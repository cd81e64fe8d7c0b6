"""Writing query results to CSV/Parquet files and counting their defects."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb

OutputFormat = Literal["csv", "parquet"]
FORMATS: tuple[OutputFormat, ...] = ("csv", "parquet")


def _sql_path(path: Path) -> str:
    """Quote a path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def copy_options(fmt: OutputFormat) -> str:
    """COPY options for the requested output format."""
    if fmt == "parquet":
        return "FORMAT parquet, COMPRESSION zstd"
    return "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"'"


def write_query(
    con: duckdb.DuckDBPyConnection,
    query: str,
    columns: Sequence[str],
    order_by: str,
    path: Path,
    fmt: OutputFormat,
) -> int:
    """COPY ``columns`` of ``query`` (as VARCHAR, in ``order_by`` order) to ``path``.

    The file is written next to its destination and renamed into place. Returns the row count.
    """
    select = ", ".join(f"CAST({col} AS VARCHAR) AS {col}" for col in columns)
    tmp = path.with_name(f".{path.name}.tmp")
    sql = (
        f"COPY (SELECT {select} FROM ({query}) q ORDER BY {order_by}) "
        f"TO {_sql_path(tmp)} ({copy_options(fmt)})"
    )
    rows = con.execute(sql).fetchall()[0][0]
    os.replace(tmp, path)
    return int(rows)


def write_truth(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Write a typed ground-truth table to Parquet. Returns the row count."""
    tmp = path.with_name(f".{path.name}.tmp")
    sql = f"COPY ({query}) TO {_sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd)"
    rows = con.execute(sql).fetchall()[0][0]
    os.replace(tmp, path)
    return int(rows)


def defect_counts(con: duckdb.DuckDBPyConnection, query: str) -> dict[str | None, int]:
    """``{row defect or None: rows}`` of a query exposing a ``rd`` column."""
    rows = con.execute(f"SELECT rd, count(*) FROM ({query}) q GROUP BY rd").fetchall()
    return {defect: int(n) for defect, n in rows}


def grouped_counts(con: duckdb.DuckDBPyConnection, query: str) -> dict[str | None, int]:
    """Like :func:`defect_counts` for a query that already returns ``(rd, n)`` rows."""
    return {defect: int(n) for defect, n in con.execute(query).fetchall()}
