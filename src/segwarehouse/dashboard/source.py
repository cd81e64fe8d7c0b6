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


def segment_sizes_by_build(warehouse: Warehouse) -> pd.DataFrame:
    """Members per segment at every build date of marts.segment_membership_history (a
    customer is a member on the builds from valid_from to last_seen_on; 0 after a segment
    empties): as_of_date, segment_family, exclusivity_group, segment_id, members. Read by
    both dashboard pages (the overview's segment bars, the details page's lines)."""
    return warehouse.frame(
        """
        with history as (
            select * from marts.segment_membership_history
        ),

        builds as (
            select valid_from as as_of_date from history
            union
            select last_seen_on from history
            union
            select valid_to from history where valid_to is not null
        ),

        segments as (
            select distinct segment_family, exclusivity_group, segment_id from history
        ),

        counts as (
            select builds.as_of_date, history.segment_id, count(*) as members
            from builds
            inner join history
                on builds.as_of_date between history.valid_from and history.last_seen_on
            group by builds.as_of_date, history.segment_id
        )

        select
            builds.as_of_date,
            segments.segment_family,
            segments.exclusivity_group,
            segments.segment_id,
            coalesce(counts.members, 0) as members
        from builds
        cross join segments
        left join counts
            on builds.as_of_date = counts.as_of_date
            and segments.segment_id = counts.segment_id
        order by segments.segment_family, segments.segment_id, builds.as_of_date
        """
    )
