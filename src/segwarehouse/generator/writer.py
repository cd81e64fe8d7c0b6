"""Writing query results to CSV/Parquet files and counting their defects."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb

from segwarehouse.sqltext import sql_literal

OutputFormat = Literal["csv", "parquet"]
FORMATS: tuple[OutputFormat, ...] = ("csv", "parquet")


def copy_options(fmt: OutputFormat) -> str:
    """COPY options for the requested output format."""
    if fmt == "parquet":
        return "FORMAT parquet, COMPRESSION zstd"
    return "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"'"


def write_query(
    con: duckdb.DuckDBPyConnection,
    query: str,
    columns: Sequence[str],
    order_by: str | None,
    path: Path,
    fmt: OutputFormat,
) -> int:
    """COPY ``columns`` of ``query`` (as VARCHAR, in ``order_by`` order) to ``path``.

    ``order_by`` None writes the rows in the query's own order: only for a query whose order
    is deterministic without a sort (order-preserving operators over a table stored in the
    wanted order, with preserve_insertion_order on, as the generator's connection has it).
    That write runs on one thread: the rows are in the same order on any number, but where
    a Parquet row group ends depends on how the threads hand their batches over, and the
    file's bytes must not depend on the thread count.
    The file is written next to its destination and renamed into place. Returns the row count.
    """
    select = ", ".join(f"CAST({col} AS VARCHAR) AS {col}" for col in columns)
    tmp = path.with_name(f".{path.name}.tmp")
    order = f" ORDER BY {order_by}" if order_by else ""
    target = sql_literal(tmp)
    sql = f"COPY (SELECT {select} FROM ({query}) q{order}) TO {target} ({copy_options(fmt)})"
    rows = con.execute(sql).fetchall()[0][0] if order_by else _single_threaded(con, sql)
    os.replace(tmp, path)
    return int(rows)


def _single_threaded(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Run a COPY on one thread, then restore the connection's thread count."""
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    con.execute("SET threads = 1")
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.execute(f"SET threads = {threads}")


def write_truth(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Write a typed ground-truth table to Parquet. Returns the row count."""
    tmp = path.with_name(f".{path.name}.tmp")
    sql = f"COPY ({query}) TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION zstd)"
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
