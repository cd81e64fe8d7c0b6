"""Customer lifetime value per buyer: BG/NBD purchases and probability alive, Gamma-Gamma spend.

Thin dbt model: predictions from the parameters fitted in clv_model_params; the likelihoods,
fitting and CLV live in segwarehouse.ml.clv, with their tests (parameter recovery on simulated
histories).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clv import CLV_SCHEMA, ClvSettings, predict_clv
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per customer with a completed order; no rows when BG/NBD could not be fitted."""
    dbt.config(materialized="table")
    rfm_relation = dbt.ref("customer_rfm")
    params_relation = dbt.ref("clv_model_params")
    context_relation = dbt.ref("int_run_context")
    settings = ClvSettings(
        horizon_days=int(dbt.config.get("horizon_days")),
        annual_discount_rate=float(dbt.config.get("annual_discount_rate")),
    )
    as_of_date = run_as_of_date(context_relation)

    def compute() -> pd.DataFrame:
        rfm = rfm_relation.project(
            "customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv"
        ).df()
        return predict_clv(rfm, params_relation.df(), as_of_date, settings)

    return recorded_run(
        duckdb_connection(session), "customer_clv", context_relation, CLV_SCHEMA, compute
    )
