"""K-Means, Ward and DBSCAN compared on the same features: inertia, silhouette and
Davies-Bouldin per method and k; the chosen k of var ml__cluster_method flagged.

Thin dbt model: feature preparation, the comparison and the rule choosing k live in
segwarehouse.ml.clustering (settings from segwarehouse.ml.clustering.settings_from). The
sweep of the first build of a retrain period (var ml__retrain_every_days) is kept for the
rest of the period: the previous build's rows are reused while their refit_key is current.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clustering import (
    BUYERS_FILTER,
    DIAGNOSTICS_SCHEMA,
    FEATURE_COLUMNS,
    diagnostics_table,
    settings_from,
    sweep_refit_key,
)
from segwarehouse.ml.model_cache import previous_rows
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per method and k tried; none when the data cannot be clustered."""
    dbt.config(materialized="table")
    features_relation = dbt.ref("customer_features")
    context_relation = dbt.ref("int_run_context")
    settings = settings_from(
        {
            "k_min": dbt.config.get("k_min"),
            "k_max": dbt.config.get("k_max"),
            "silhouette_sample_size": dbt.config.get("silhouette_sample_size"),
            "silhouette_tolerance": dbt.config.get("silhouette_tolerance"),
            "method": dbt.config.get("method"),
            "sweep_sample_size": dbt.config.get("sweep_sample_size"),
            "comparison_sample_size": dbt.config.get("comparison_sample_size"),
            "dbscan_min_samples": dbt.config.get("dbscan_min_samples"),
            "retrain_every_days": dbt.config.get("retrain_every_days"),
            "random_seed": dbt.config.get("random_seed"),
        }
    )
    as_of_date = run_as_of_date(context_relation)
    con = duckdb_connection(session)

    def compute() -> pd.DataFrame:
        key = sweep_refit_key(as_of_date, settings)
        diagnostics = previous_rows(con, dbt.this, key, DIAGNOSTICS_SCHEMA, key_column="refit_key")
        if diagnostics is None:
            features = (
                features_relation.filter(BUYERS_FILTER).project(FEATURE_COLUMNS).df()
            ).set_index("customer_key")
            diagnostics = diagnostics_table(features, as_of_date, settings)
        diagnostics["as_of_date"] = as_of_date
        return diagnostics

    return recorded_run(con, "cluster_diagnostics", context_relation, DIAGNOSTICS_SCHEMA, compute)
