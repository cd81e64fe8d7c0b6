"""Cross-validated quality of the churn model (long format: one row per metric).

Thin dbt model: the evaluation lives in segwarehouse.ml.churn.evaluate, with its tests.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import (
    METRICS_SCHEMA,
    evaluate_training_set,
    has_cv_metrics,
    report_missing_model,
    rows_of_the_fit,
    settings_from_config,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """AUC, precision / recall at the threshold, Brier, ECE, training size and positive rate."""
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
            evaluate_training_set, METRICS_SCHEMA,
        )  # fmt: skip

    return recorded_run(
        con, "model_metrics", context_relation, METRICS_SCHEMA, compute, produced=has_cv_metrics
    )
