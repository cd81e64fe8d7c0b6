"""Buyers most like the members of a seed segment (var ml__lookalike_seed_segment_id).

Thin dbt model: the similarity lives in segwarehouse.ml.lookalike, with its tests.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clustering import BUYERS_FILTER, FEATURE_COLUMNS
from segwarehouse.ml.lookalike import LOOKALIKE_SCHEMA, lookalike_scores
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date
from segwarehouse.sqltext import sql_literal


def model(dbt: Any, session: Any) -> Any:
    """One row per buyer outside the seed segment; none when there is nothing to compare."""
    dbt.config(materialized="table")
    features_relation = dbt.ref("customer_features")
    membership_relation = dbt.ref("segment_membership")
    context_relation = dbt.ref("int_run_context")
    seed_segment_id = str(dbt.config.get("seed_segment_id"))
    top_n = int(dbt.config.get("top_n"))
    as_of_date = run_as_of_date(context_relation)

    def compute() -> pd.DataFrame:
        members = {
            key
            for (key,) in membership_relation.filter(f"segment_id = {sql_literal(seed_segment_id)}")
            .project("customer_key")
            .fetchall()
        }
        features = (
            features_relation.filter(BUYERS_FILTER).project(FEATURE_COLUMNS).df()
        ).set_index("customer_key")
        return lookalike_scores(features, members, seed_segment_id, top_n, as_of_date)

    return recorded_run(
        duckdb_connection(session), "lookalike_scores", context_relation, LOOKALIKE_SCHEMA, compute
    )
