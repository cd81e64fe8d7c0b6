"""Fitted BG/NBD and Gamma-Gamma parameters (long format), read by customer_clv.

Thin dbt model: the maximum-likelihood fits live in segwarehouse.ml.clv, with their tests.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.ml.clv import PARAMS_SCHEMA, fit_clv_parameters
from segwarehouse.ml.frames import typed_relation
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row per model and parameter; a model the data cannot support has no rows."""
    dbt.config(materialized="table")
    rfm_relation = dbt.ref("customer_rfm")
    context_relation = dbt.ref("int_run_context")
    rfm = rfm_relation.project(
        "customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv"
    ).df()
    parameters = fit_clv_parameters(rfm, run_as_of_date(context_relation))
    return typed_relation(duckdb_connection(session), parameters, PARAMS_SCHEMA)
