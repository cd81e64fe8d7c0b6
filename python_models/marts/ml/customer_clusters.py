"""Behavioural cluster, persona and 2-D PCA coordinates of every buyer, by var
ml__cluster_method at the k chosen in cluster_diagnostics.

Thin dbt model: clustering lives in segwarehouse.ml.clustering (settings from its
fit_settings_from). Before it is replaced, the previous build of this table is read: its
clusters' centroids on today's features decide the cluster ids (Hungarian matching), and each
customer's previous_cluster_id is kept (cluster_profiles turns it into the adjusted Rand index
between runs).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clustering import (
    BUYERS_FILTER,
    CLUSTERS_SCHEMA,
    FEATURE_COLUMNS,
    clusters_table,
    fit_settings_from,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per buyer; none when the data cannot be clustered."""
    dbt.config(materialized="table")
    features_relation = dbt.ref("customer_features")
    diagnostics_relation = dbt.ref("cluster_diagnostics")
    context_relation = dbt.ref("int_run_context")
    # Only what the final fit reads; the sweep's settings are cluster_diagnostics' own.
    settings = fit_settings_from(
        {
            "method": dbt.config.get("method"),
            "comparison_sample_size": dbt.config.get("comparison_sample_size"),
            "dbscan_min_samples": dbt.config.get("dbscan_min_samples"),
            "random_seed": dbt.config.get("random_seed"),
        }
    )
    con = duckdb_connection(session)
    as_of_date = run_as_of_date(context_relation)

    def compute() -> pd.DataFrame:
        try:  # the table as the previous build left it (absent on the first build)
            previous = con.sql(f"select customer_key, cluster_id from {dbt.this}").df()
        except (duckdb.CatalogException, duckdb.BinderException):  # absent, or an older shape
            previous = None
        features = (
            features_relation.filter(BUYERS_FILTER).project(FEATURE_COLUMNS).df()
        ).set_index("customer_key")
        return clusters_table(features, diagnostics_relation.df(), previous, as_of_date, settings)

    return recorded_run(con, "customer_clusters", context_relation, CLUSTERS_SCHEMA, compute)
