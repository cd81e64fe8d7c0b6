"""Permutation importance of the churn model's features (drop in held-out AUC).

Thin dbt model: the computation lives in segwarehouse.ml.churn.feature_importance.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import (
    IMPORTANCE_SCHEMA,
    importance_of_training_set,
    report_missing_model,
    rows_of_the_fit,
    settings_from_config,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per feature, ranked; no rows when no model could be trained."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
    model_relation = dbt.ref("int_churn_model")
    context_relation = dbt.ref("int_run_context")
    # dbt passes a model only the config keys its code names literally.
    config = {
        "churn_horizon_days": dbt.config.get("churn_horizon_days"),
        "churn_medium_risk_from": dbt.config.get("churn_medium_risk_from"),
        "churn_high_risk_from": dbt.config.get("churn_high_risk_from"),
        "churn_decision_threshold": dbt.config.get("churn_decision_threshold"),
        "churn_cv_folds": dbt.config.get("churn_cv_folds"),
        "churn_max_training_customers": dbt.config.get("churn_max_training_customers"),
        "churn_outer_cv_folds": dbt.config.get("churn_outer_cv_folds"),
        "retrain_every_days": dbt.config.get("retrain_every_days"),
        "random_seed": dbt.config.get("random_seed"),
    }
    as_of_date = run_as_of_date(context_relation)
    settings = settings_from_config(config)
    con = duckdb_connection(session)

    def compute() -> pd.DataFrame:
        report_missing_model(model_relation)
        # Computed from the training set alone: kept while the model version is the same.
        return rows_of_the_fit(
            con, dbt.this, snapshots_relation, model_relation, as_of_date, settings,
            importance_of_training_set, IMPORTANCE_SCHEMA,
        )  # fmt: skip

    return recorded_run(
        con, "model_feature_importance", context_relation, IMPORTANCE_SCHEMA, compute
    )
