"""Customer lifetime value per buyer: BG/NBD purchases and probability alive, Gamma-Gamma spend.

Thin dbt model: predictions from the parameters fitted in clv_model_params; the likelihoods,
fitting and CLV live in segwarehouse.ml.clv, with their tests (parameter recovery on simulated
histories).
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clv import CLV_SCHEMA, ClvSettings, predict_clv
from segwarehouse.ml.frames import typed_relation
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
    rfm = rfm_relation.project(
        "customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv"
    ).df()
    clv = predict_clv(rfm, params_relation.df(), run_as_of_date(context_relation), settings)
    return typed_relation(duckdb_connection(session), clv, CLV_SCHEMA)
