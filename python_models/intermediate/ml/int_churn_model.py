"""The fitted churn model (pickled) and its version: trained when the training set changed.

Thin dbt model: fitting and versioning live in segwarehouse.ml.churn and
segwarehouse.ml.model_cache, with their tests. The training snapshot is built as of the
retrain anchor (var ml__churn_retrain_every_days), so on most days of a period it is the same
rows as at the previous build: then the previous build's row is kept and nothing is fitted.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import (
    MODEL_SCHEMA,
    model_row,
    settings_from_config,
    training_from_relation,
    training_version,
)
from segwarehouse.ml.frames import typed_relation
from segwarehouse.ml.model_cache import previous_rows


def model(dbt: Any, session: Any) -> Any:
    """One row: the model of the current training set (model_bytes null if none could be fit)."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
    # dbt passes a model only the config keys its code names literally.
    config = {
        "churn_horizon_days": dbt.config.get("churn_horizon_days"),
        "churn_medium_risk_from": dbt.config.get("churn_medium_risk_from"),
        "churn_high_risk_from": dbt.config.get("churn_high_risk_from"),
        "churn_decision_threshold": dbt.config.get("churn_decision_threshold"),
        "churn_cv_folds": dbt.config.get("churn_cv_folds"),
        "churn_max_training_customers": dbt.config.get("churn_max_training_customers"),
        "churn_outer_cv_folds": dbt.config.get("churn_outer_cv_folds"),
        "churn_retrain_every_days": dbt.config.get("churn_retrain_every_days"),
        "random_seed": dbt.config.get("random_seed"),
    }
    as_of_date = dbt.config.get("as_of_date")
    settings = settings_from_config(config)
    con = duckdb_connection(session)
    train = training_from_relation(snapshots_relation, as_of_date, settings)
    kept = previous_rows(con, dbt.this, training_version(train, settings), MODEL_SCHEMA)
    row = kept if kept is not None else model_row(train, settings)
    return typed_relation(con, row, MODEL_SCHEMA)
