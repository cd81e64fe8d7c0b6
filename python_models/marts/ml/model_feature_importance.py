"""Permutation importance of the churn model's features (drop in held-out AUC).

Thin dbt model: the computation lives in segwarehouse.ml.churn.feature_importance. It runs with
the settings int_churn_model was fitted with (its fit_settings), on the training set alone, and
is kept while the model version is the same (segwarehouse.ml.churn.rows_of_the_fit).
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import run_model_feature_importance


def model(dbt: Any, session: Any) -> Any:
    """One row per feature, ranked; no rows when no model could be trained."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
    model_relation = dbt.ref("int_churn_model")
    context_relation = dbt.ref("int_run_context")
    return run_model_feature_importance(
        duckdb_connection(session), dbt.this, snapshots_relation, model_relation, context_relation
    )
