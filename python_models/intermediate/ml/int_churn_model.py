"""The fitted churn model (pickled) and its version: fitted once per retrain period.

Thin dbt model: fitting and versioning live in segwarehouse.ml.churn and
segwarehouse.ml.model_cache, with their tests. The training snapshot is as of the retrain
anchor (var ml__retrain_every_days); while the anchor, the settings and the library
versions are those of the previous build's row (its refit_key), that row is kept and neither
the training set is read nor anything fitted. The run (ok / degraded / skipped, and why) is
logged to audit.model_runs (segwarehouse.ml.run_log).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import (
    MODEL_SCHEMA,
    model_row,
    refit_key,
    report_kept_fit,
    settings_from_config,
    training_cutoff,
    training_from_relation,
)
from segwarehouse.ml.model_cache import previous_rows
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row: the retrain period's model (model_bytes null when none could be fitted)."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
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
        key = refit_key(training_cutoff(as_of_date, settings), settings)
        row = previous_rows(con, dbt.this, key, MODEL_SCHEMA, key_column="refit_key")
        if row is not None:
            report_kept_fit(row)
            return row
        training = training_from_relation(snapshots_relation, as_of_date, settings)
        return model_row(training, settings)

    return recorded_run(
        con,
        "int_churn_model",
        context_relation,
        MODEL_SCHEMA,
        compute,
        produced=lambda row: bool(row["model_bytes"].notna().any()),
    )
