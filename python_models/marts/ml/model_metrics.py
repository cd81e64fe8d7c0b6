"""Cross-validated quality of the churn model (long format: one row per metric).

Thin dbt model: the evaluation lives in segwarehouse.ml.churn.evaluate, with its tests. It runs
with the settings int_churn_model was fitted with (its fit_settings), on the training set alone,
and is kept while the model version is the same (segwarehouse.ml.churn.rows_of_the_fit).
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import run_model_metrics


def model(dbt: Any, session: Any) -> Any:
    """AUC, precision / recall at the threshold, Brier, ECE, training size and positive rate."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
    model_relation = dbt.ref("int_churn_model")
    context_relation = dbt.ref("int_run_context")
    return run_model_metrics(
        duckdb_connection(session), dbt.this, snapshots_relation, model_relation, context_relation
    )
