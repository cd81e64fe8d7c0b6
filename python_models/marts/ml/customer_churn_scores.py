"""Churn probability and risk band of every buyer as of as_of_date.

Thin dbt model: scores the scoring snapshot of int_churn_feature_snapshots with the model
int_churn_model fitted (or kept), with the settings it was fitted with (its fit_settings) and
this model's own risk bands; features, the classifier and the bands live in
segwarehouse.ml.churn, with their tests (including one that later orders cannot change the
training features). With no model the table is empty and audit.model_runs says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.churn import SCORES_SCHEMA, scores_of_the_fit
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per customer with a completed order; no rows when no model could be trained."""
    dbt.config(materialized="table")
    snapshots_relation = dbt.ref("int_churn_feature_snapshots")
    model_relation = dbt.ref("int_churn_model")
    context_relation = dbt.ref("int_run_context")
    # The risk bands only label probabilities: this model reads them itself (dbt passes a
    # model only the config keys its code names literally); the rest is the fit's.
    bands = {
        "churn_medium_risk_from": dbt.config.get("churn_medium_risk_from"),
        "churn_high_risk_from": dbt.config.get("churn_high_risk_from"),
    }
    as_of_date = run_as_of_date(context_relation)

    def compute() -> pd.DataFrame:
        return scores_of_the_fit(model_relation, snapshots_relation, as_of_date, bands)

    return recorded_run(
        duckdb_connection(session),
        "customer_churn_scores",
        context_relation,
        SCORES_SCHEMA,
        compute,
    )
