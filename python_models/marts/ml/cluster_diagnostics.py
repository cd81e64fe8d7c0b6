"""K-Means over the k range: inertia, silhouette and Davies-Bouldin per k, the chosen k flagged.

Thin dbt model: feature preparation and the sweep live in segwarehouse.ml.clustering.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clustering import (
    BUYERS_FILTER,
    DIAGNOSTICS_SCHEMA,
    FEATURE_COLUMNS,
    ClusterSettings,
    diagnostics_table,
)
from segwarehouse.ml.frames import typed_relation


def model(dbt: Any, session: Any) -> Any:
    """One row per k tried; none when the data cannot be clustered."""
    dbt.config(materialized="table")
    features_relation = dbt.ref("customer_features")
    settings = ClusterSettings(
        k_min=int(dbt.config.get("k_min")),
        k_max=int(dbt.config.get("k_max")),
        silhouette_sample_size=int(dbt.config.get("silhouette_sample_size")),
        sweep_sample_size=int(dbt.config.get("sweep_sample_size")),
        seed=int(dbt.config.get("random_seed")),
    )
    features = (features_relation.filter(BUYERS_FILTER).project(FEATURE_COLUMNS).df()).set_index(
        "customer_key"
    )
    diagnostics = diagnostics_table(features, dbt.config.get("as_of_date"), settings)
    return typed_relation(duckdb_connection(session), diagnostics, DIAGNOSTICS_SCHEMA)
