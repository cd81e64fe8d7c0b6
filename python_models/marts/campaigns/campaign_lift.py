"""Treatment vs control lift of every campaign: conversion and revenue per member, tested.

Thin dbt model: campaign_arm_summary has aggregated members to one row per campaign and arm;
the statistics (Newcombe / Fisher for conversion, Welch for revenue, intervals that agree with
their p-values, Benjamini-Hochberg, sample-size adequacy) live
in segwarehouse.experiments, with their tests against scipy.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.experiments.lift import (
    ARM_COLUMNS,
    LIFT_SCHEMA,
    campaign_lift_frame,
    settings_from_config,
)
from segwarehouse.ml.run_log import recorded_run


def model(dbt: Any, session: Any) -> Any:
    """One row per campaign with members in campaign_arm_summary."""
    dbt.config(materialized="table")
    arms_relation = dbt.ref("campaign_arm_summary")
    context_relation = dbt.ref("int_run_context")
    # dbt passes a model only the config keys its code names literally.
    config = {
        "alpha": dbt.config.get("alpha"),
        "power": dbt.config.get("power"),
        "min_detectable_effect_conversion": dbt.config.get("min_detectable_effect_conversion"),
        "min_detectable_effect_revenue": dbt.config.get("min_detectable_effect_revenue"),
        "attribution_window_days": dbt.config.get("attribution_window_days"),
    }
    settings = settings_from_config(config)
    return recorded_run(
        duckdb_connection(session),
        "campaign_lift",
        context_relation,
        LIFT_SCHEMA,
        lambda: campaign_lift_frame(arms_relation.project(ARM_COLUMNS).df(), settings),
        note=lambda lift: (
            "no campaign with members in campaign_arm_summary (no campaign events landed)"
            if lift.empty
            else None
        ),
    )
