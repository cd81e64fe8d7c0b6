"""Typed hand-over of model outputs to DuckDB: explicit column types, also for empty results."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import duckdb
import pandas as pd

logger = logging.getLogger("segwarehouse.ml")


def empty_frame(schema: Mapping[str, str]) -> pd.DataFrame:
    """A zero-row frame with the columns of `schema` (types are applied by `typed_relation`)."""
    return pd.DataFrame({column: pd.Series([], dtype="object") for column in schema})


def typed_relation(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, schema: Mapping[str, str]
) -> duckdb.DuckDBPyRelation:
    """`frame` as a DuckDB relation with exactly the columns and SQL types of `schema`.

    Python models have no enforced contract in dbt-duckdb, so the casts here are what fixes
    the published types, including when a degenerate input yields no rows at all.
    """
    missing = [column for column in schema if column not in frame.columns]
    if missing:
        raise ValueError(f"result lacks columns {missing}")
    if frame.empty:
        frame = pd.DataFrame({column: pd.Series([None] * 1, dtype="object") for column in schema})
        relation = con.from_df(frame[list(schema)]).limit(0)
    else:
        relation = con.from_df(frame[list(schema)])
    casts = ", ".join(
        f'cast("{column}" as {sql_type}) as "{column}"' for column, sql_type in schema.items()
    )
    return relation.project(casts)
