"""Fitted BG/NBD and Gamma-Gamma parameters (long format), read by customer_clv.

Thin dbt model: the maximum-likelihood fits live in segwarehouse.ml.clv, with their tests.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clv import PARAMS_SCHEMA, fit_clv_parameters
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per model and parameter; a model the data cannot support has no rows."""
    dbt.config(materialized="table")
    rfm_relation = dbt.ref("customer_rfm")
    context_relation = dbt.ref("int_run_context")
    as_of_date = run_as_of_date(context_relation)

    def compute() -> pd.DataFrame:
        rfm = rfm_relation.project(
            "customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv"
        ).df()
        return fit_clv_parameters(rfm, as_of_date)

    return recorded_run(
        duckdb_connection(session),
        "clv_model_params",
        context_relation,
        PARAMS_SCHEMA,
        compute,
        produced=lambda params: bool((params["model_name"] == "bg_nbd").any()),
    )
