"""Profile of each behavioural cluster: persona, size, mean raw features, stability and its
alert (var ml__cluster_stability_alert_below).

Thin dbt model: the aggregation and the adjusted Rand index live in
segwarehouse.ml.clustering.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clustering import (
    BUYERS_FILTER,
    FEATURE_COLUMNS,
    PROFILES_SCHEMA,
    cluster_profiles,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per cluster; none when there are no clusters."""
    dbt.config(materialized="table")
    clusters_relation = dbt.ref("customer_clusters")
    features_relation = dbt.ref("customer_features")
    context_relation = dbt.ref("int_run_context")
    as_of_date = run_as_of_date(context_relation)
    alert_below = float(dbt.config.get("stability_alert_below"))

    def compute() -> pd.DataFrame:
        features = (
            features_relation.filter(BUYERS_FILTER).project(FEATURE_COLUMNS).df()
        ).set_index("customer_key")
        return cluster_profiles(clusters_relation.df(), features, as_of_date, alert_below)

    return recorded_run(
        duckdb_connection(session), "cluster_profiles", context_relation, PROFILES_SCHEMA, compute
    )
