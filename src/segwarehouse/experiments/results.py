"""experiment_results: the warehouse's own holdouts measured against warehouse outcomes.

The dbt Python model `experiment_results` is a thin wrapper around `experiment_results_frame`.
It reads experiment_member_outcomes (one row per experiment and member: arm, orders and
revenue in the days after assignment) and compares treatment with control per experiment
(each experiment targets one segment, so a row is also that segment's result):
conversion (any completed order) with `compare_proportions`, revenue and orders per member
with `compare_means` (bootstrap where skewed and small, Welch otherwise, no test when an arm
shows no variation). p-values and intervals agree by construction; Benjamini-Hochberg runs
across the experiments of the run per metric, with false-coverage-rate intervals that agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segwarehouse.experiments.inference import (
    Comparison,
    adjust_rows,
    compare_means,
    compare_proportions,
    conversion_minimum_detectable_effect,
    mean_minimum_detectable_effect,
)
from segwarehouse.experiments.stats import relative_lift

TREATMENT = "treatment"
CONTROL = "control"
METRICS = ("conversion", "revenue", "orders")

# Columns experiment_results reads from experiment_member_outcomes.
MEMBER_COLUMNS = (
    "experiment_id, segment_id, customer_key, arm, assigned_on, observed_days, orders, "
    "revenue, is_converted, is_window_complete, as_of_date"
)


def _metric_schema(metric: str) -> dict[str, str]:
    return {
        f"{metric}_lift_abs": "double",
        f"{metric}_lift_rel": "double",
        f"{metric}_ci_low": "double",
        f"{metric}_ci_high": "double",
        f"{metric}_test": "varchar",
        f"{metric}_p_value": "double",
        f"{metric}_p_value_adjusted": "double",
        f"{metric}_ci_adjusted_low": "double",
        f"{metric}_ci_adjusted_high": "double",
        f"is_{metric}_significant": "boolean",
        f"is_{metric}_significant_adjusted": "boolean",
        f"{metric}_min_detectable_effect": "double",
    }


RESULTS_SCHEMA: dict[str, str] = {
    "experiment_id": "varchar",
    "segment_id": "varchar",
    "members_treatment": "bigint",
    "members_control": "bigint",
    "members_pending": "bigint",
    "conversions_treatment": "bigint",
    "conversions_control": "bigint",
    "conversion_rate_treatment": "double",
    "conversion_rate_control": "double",
    **_metric_schema("conversion"),
    "conversion_fisher_p_value": "double",
    "revenue_treatment": "double",
    "revenue_control": "double",
    "revenue_per_member_treatment": "double",
    "revenue_per_member_control": "double",
    **_metric_schema("revenue"),
    "orders_per_member_treatment": "double",
    "orders_per_member_control": "double",
    **_metric_schema("orders"),
    "alpha": "double",
    "power": "double",
    "outcome_window_days": "integer",
    "first_assigned_on": "date",
    "last_assigned_on": "date",
    "is_window_complete": "boolean",
    "as_of_date": "date",
}


@dataclass(frozen=True)
class ResultSettings:
    """vars experiments__*: level, power, outcome window and when to bootstrap."""

    alpha: float
    power: float
    outcome_window_days: int
    skew_threshold: float
    bootstrap_max_members: int
    bootstrap_resamples: int
    bootstrap_seed: int

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or not 0 < self.power < 1:
            raise ValueError(
                f"experiments__alpha {self.alpha} and experiments__power {self.power} "
                "must lie in (0, 1)"
            )
        if self.outcome_window_days < 1 or self.bootstrap_resamples < 100:
            raise ValueError(
                "experiments__outcome_window_days must be >= 1 and "
                f"experiments__bootstrap_resamples >= 100 (got {self.outcome_window_days}, "
                f"{self.bootstrap_resamples})"
            )


def settings_from_config(config: Mapping[str, object]) -> ResultSettings:
    """ResultSettings from the model's YAML config (rendered from the experiments__ vars)."""
    return ResultSettings(
        alpha=float(config["alpha"]),  # type: ignore[arg-type]
        power=float(config["power"]),  # type: ignore[arg-type]
        outcome_window_days=int(config["outcome_window_days"]),  # type: ignore[call-overload]
        skew_threshold=float(config["skew_threshold"]),  # type: ignore[arg-type]
        bootstrap_max_members=int(config["bootstrap_max_members"]),  # type: ignore[call-overload]
        bootstrap_resamples=int(config["bootstrap_resamples"]),  # type: ignore[call-overload]
        bootstrap_seed=int(config["bootstrap_seed"]),  # type: ignore[call-overload]
    )


def _values(members: pd.DataFrame, arm: str, column: str) -> np.ndarray:
    return members.loc[members["arm"] == arm, column].astype(float).to_numpy()


def _pooled_sd(treated: np.ndarray, control: np.ndarray) -> float:
    parts = [values for values in (treated, control) if len(values) > 1]
    degrees = sum(len(values) - 1 for values in parts)
    if degrees == 0:
        return math.nan
    squares = sum(float(np.var(values, ddof=1)) * (len(values) - 1) for values in parts)
    return math.sqrt(squares / degrees)


def _metric_columns(
    metric: str, result: Comparison, treated: float, control: float, alpha: float, mde: float
) -> dict[str, object]:
    low, high = result.interval(alpha)
    p = result.p_value
    return {
        f"{metric}_lift_abs": treated - control,
        f"{metric}_lift_rel": relative_lift(treated, control),
        f"{metric}_ci_low": low,
        f"{metric}_ci_high": high,
        f"{metric}_test": result.method,
        f"{metric}_p_value": p,
        f"is_{metric}_significant": None if math.isnan(p) else p < alpha,
        f"{metric}_min_detectable_effect": mde,
        f"_{metric}": result,
    }


def _experiment_row(members: pd.DataFrame, settings: ResultSettings) -> dict[str, object]:
    first = members.iloc[0]
    observed = members[members["observed_days"] > 0]
    k_t = int(observed.loc[observed["arm"] == TREATMENT, "is_converted"].sum())
    k_c = int(observed.loc[observed["arm"] == CONTROL, "is_converted"].sum())
    revenue_t, revenue_c = (
        _values(observed, TREATMENT, "revenue"),
        _values(observed, CONTROL, "revenue"),
    )
    orders_t, orders_c = (
        _values(observed, TREATMENT, "orders"),
        _values(observed, CONTROL, "orders"),
    )
    n_t, n_c = len(revenue_t), len(revenue_c)
    conversion = compare_proportions(k_t, n_t, k_c, n_c)
    revenue = compare_means(
        revenue_t,
        revenue_c,
        settings.skew_threshold,
        settings.bootstrap_max_members,
        settings.bootstrap_resamples,
        settings.bootstrap_seed,
    )
    orders = compare_means(
        orders_t,
        orders_c,
        settings.skew_threshold,
        settings.bootstrap_max_members,
        settings.bootstrap_resamples,
        settings.bootstrap_seed,
    )
    alpha, power = settings.alpha, settings.power
    return {
        "experiment_id": first["experiment_id"],
        "segment_id": first["segment_id"],
        "members_treatment": n_t,
        "members_control": n_c,
        "members_pending": int(len(members) - len(observed)),
        "conversions_treatment": k_t,
        "conversions_control": k_c,
        "conversion_rate_treatment": conversion.rate_treatment,
        "conversion_rate_control": conversion.rate_control,
        **_metric_columns(
            "conversion",
            conversion,
            conversion.rate_treatment,
            conversion.rate_control,
            alpha,
            conversion_minimum_detectable_effect(conversion.rate_control, n_t, n_c, alpha, power),
        ),
        "conversion_fisher_p_value": conversion.fisher_p_value,
        "revenue_treatment": float(revenue_t.sum()),
        "revenue_control": float(revenue_c.sum()),
        "revenue_per_member_treatment": revenue.mean_treatment,
        "revenue_per_member_control": revenue.mean_control,
        **_metric_columns(
            "revenue",
            revenue,
            revenue.mean_treatment,
            revenue.mean_control,
            alpha,
            mean_minimum_detectable_effect(
                _pooled_sd(revenue_t, revenue_c), n_t, n_c, alpha, power
            ),
        ),
        "orders_per_member_treatment": orders.mean_treatment,
        "orders_per_member_control": orders.mean_control,
        **_metric_columns(
            "orders",
            orders,
            orders.mean_treatment,
            orders.mean_control,
            alpha,
            mean_minimum_detectable_effect(_pooled_sd(orders_t, orders_c), n_t, n_c, alpha, power),
        ),
        "alpha": alpha,
        "power": power,
        "outcome_window_days": settings.outcome_window_days,
        "first_assigned_on": members["assigned_on"].min(),
        "last_assigned_on": members["assigned_on"].max(),
        "is_window_complete": bool(members["is_window_complete"].all()),
        "as_of_date": first["as_of_date"],
    }


def experiment_results_frame(members: pd.DataFrame, settings: ResultSettings) -> pd.DataFrame:
    """One row per experiment (RESULTS_SCHEMA) from experiment_member_outcomes rows."""
    unknown = sorted(set(members["arm"]) - {TREATMENT, CONTROL}) if not members.empty else []
    if unknown:
        raise ValueError(
            f"experiment_member_outcomes.arm holds {unknown}; only 'treatment' and 'control' "
            "are defined (check experiment_assignment_log)"
        )
    if members.empty:
        return pd.DataFrame({column: pd.Series([], dtype="object") for column in RESULTS_SCHEMA})
    rows = [
        _experiment_row(group, settings) for _, group in members.groupby("experiment_id", sort=True)
    ]
    for metric in METRICS:
        adjust_rows(rows, metric, settings.alpha, f"{metric}_ci_adjusted")
    frame = pd.DataFrame(rows, columns=list(RESULTS_SCHEMA))
    return frame.astype(object).where(frame.notna(), None)
