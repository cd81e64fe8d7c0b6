"""Churn probability and risk band of every buyer as of as_of_date.

Thin dbt model: scores the scoring snapshot of int_churn_feature_snapshots with the model
int_churn_model fitted (or kept); features, the classifier and the bands live in
segwarehouse.ml.churn, with their tests (including one that later orders cannot change the
training features). With no model the table is empty and audit.model_runs says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import (
    SCORES_SCHEMA,
    report_missing_model,
    score_with_model,
    scoring_from_relation,
    settings_from_config,
    stored_model,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per customer with a completed order; no rows when no model could be trained."""
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

    def compute() -> pd.DataFrame:
        report_missing_model(model_relation)
        current = scoring_from_relation(snapshots_relation)
        model_bytes, version = stored_model(model_relation)
        return score_with_model(model_bytes, version, current, as_of_date, settings)

    return recorded_run(
        duckdb_connection(session),
        "customer_churn_scores",
        context_relation,
        SCORES_SCHEMA,
        compute,
    )
