"""Helpers for dbt Python models running on dbt-duckdb."""

from __future__ import annotations

from typing import Any

import duckdb


def duckdb_connection(session: Any) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection behind a dbt-duckdb Python model's `session`.

    dbt-duckdb hands models a cursor wrapper that forwards attribute look-ups; libraries that
    check `isinstance(con, duckdb.DuckDBPyConnection)` (Splink does) need the cursor itself.
    """
    if isinstance(session, duckdb.DuckDBPyConnection):
        return session
    inner = getattr(session, "_cursor", None)
    if isinstance(inner, duckdb.DuckDBPyConnection):
        return inner
    raise TypeError(f"not a DuckDB session: {type(session).__name__}")
