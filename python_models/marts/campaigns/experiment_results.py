"""The warehouse's own holdouts measured: treatment vs control per experiment (and its segment).

Thin dbt model over segwarehouse.experiments.results (tested against scipy): it reads
experiment_member_outcomes (orders and revenue after assignment) and writes one row per
experiment with conversion, revenue and orders lifts, p-values and intervals that agree,
Benjamini-Hochberg across the run's experiments and minimum detectable effects.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.experiments.results import (
    MEMBER_COLUMNS,
    RESULTS_SCHEMA,
    experiment_results_frame,
    settings_from_config,
)
from segwarehouse.ml.run_log import recorded_run


def model(dbt: Any, session: Any) -> Any:
    """One row per experiment with members in experiment_member_outcomes."""
    dbt.config(materialized="table")
    members_relation = dbt.ref("experiment_member_outcomes")
    context_relation = dbt.ref("int_run_context")
    # dbt passes a model only the config keys its code names literally.
    config = {
        "alpha": dbt.config.get("alpha"),
        "power": dbt.config.get("power"),
        "outcome_window_days": dbt.config.get("outcome_window_days"),
        "skew_threshold": dbt.config.get("skew_threshold"),
        "bootstrap_max_members": dbt.config.get("bootstrap_max_members"),
        "bootstrap_resamples": dbt.config.get("bootstrap_resamples"),
        "bootstrap_seed": dbt.config.get("bootstrap_seed"),
    }
    settings = settings_from_config(config)
    return recorded_run(
        duckdb_connection(session),
        "experiment_results",
        context_relation,
        RESULTS_SCHEMA,
        lambda: experiment_results_frame(members_relation.project(MEMBER_COLUMNS).df(), settings),
        note=lambda results: (
            "no experiment member with an observed outcome window yet" if results.empty else None
        ),
    )
