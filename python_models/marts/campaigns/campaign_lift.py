"""Treatment vs control lift of every campaign: conversion and revenue per member, tested.

Thin dbt model: campaign_arm_summary has aggregated members to one row per campaign and arm;
the statistics (two-proportion z-test, Welch's t-test, intervals, sample-size adequacy) live
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
from segwarehouse.ml.frames import typed_relation


def model(dbt: Any, session: Any) -> Any:
    """One row per campaign with members in campaign_arm_summary."""
    dbt.config(materialized="table")
    arms_relation = dbt.ref("campaign_arm_summary")
    # dbt passes a model only the config keys its code names literally.
    config = {
        "alpha": dbt.config.get("alpha"),
        "power": dbt.config.get("power"),
        "min_detectable_effect_conversion": dbt.config.get("min_detectable_effect_conversion"),
        "min_detectable_effect_revenue": dbt.config.get("min_detectable_effect_revenue"),
        "attribution_window_days": dbt.config.get("attribution_window_days"),
    }
    arms = arms_relation.project(ARM_COLUMNS).df()
    lift = campaign_lift_frame(arms, settings_from_config(config))
    return typed_relation(duckdb_connection(session), lift, LIFT_SCHEMA)
