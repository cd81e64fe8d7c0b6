"""Read-only access to the warehouse file the dashboard is built from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd


class Warehouse:
    """A read-only DuckDB connection and the set of tables it holds (`schema.table`)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no warehouse at {path}: run `segwarehouse refresh` first")
        self.path = path
        self._con = duckdb.connect(str(path), read_only=True)
        rows = self._con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() "
            "union all "
            "select schema_name, view_name from duckdb_views() "
            "where database_name = current_database() and not internal"
        ).fetchall()
        self.tables = frozenset(f"{schema}.{table}" for schema, table in rows)

    def has(self, table: str) -> bool:
        """Whether `schema.table` exists in the file."""
        return table in self.tables

    def frame(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        """The result of one query as a DataFrame."""
        return self._con.execute(sql, list(params or [])).df()

    def close(self) -> None:
        """Release the file."""
        self._con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
