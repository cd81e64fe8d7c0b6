"""Campaign lift: one row per campaign from the per-arm aggregates of campaign_arm_summary.

The dbt Python model `campaign_lift` is a thin wrapper around `campaign_lift_frame`. SQL has
already reduced members to one row per campaign and arm (members, conversions, revenue mean
and sample variance), so this loops over campaigns, never over customers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from segwarehouse.experiments.inference import (
    MeanComparison,
    ProportionComparison,
    adjust_rows,
    compare_proportions,
    conversion_minimum_detectable_effect,
    mean_minimum_detectable_effect,
    welch_from_aggregates,
)
from segwarehouse.experiments.stats import (
    min_n_per_arm_means,
    min_n_per_arm_proportions,
    pooled_standard_deviation,
    relative_lift,
)

TREATMENT = "treatment"
CONTROL = "control"

# Columns campaign_lift reads from campaign_arm_summary.
ARM_COLUMNS = (
    "campaign_id, channel, variant, conversion_source, members, members_in_both_arms, "
    "conversions, revenue, revenue_per_member, revenue_variance, first_assigned_at, "
    "last_assigned_at, is_window_complete, as_of_date"
)

LIFT_SCHEMA: dict[str, str] = {
    "campaign_id": "varchar",
    "channel": "varchar",
    "conversion_source": "varchar",
    "members_treatment": "bigint",
    "members_control": "bigint",
    "members_in_both_arms": "bigint",
    "conversions_treatment": "bigint",
    "conversions_control": "bigint",
    "conversion_rate_treatment": "double",
    "conversion_rate_control": "double",
    "conversion_lift_abs": "double",
    "conversion_lift_rel": "double",
    "conversion_lift_ci_low": "double",
    "conversion_lift_ci_high": "double",
    "conversion_test": "varchar",
    "conversion_p_value": "double",
    "conversion_fisher_p_value": "double",
    "conversion_p_value_adjusted": "double",
    "conversion_lift_ci_adjusted_low": "double",
    "conversion_lift_ci_adjusted_high": "double",
    "revenue_treatment": "decimal(18, 2)",
    "revenue_control": "decimal(18, 2)",
    "revenue_per_member_treatment": "double",
    "revenue_per_member_control": "double",
    "revenue_lift_abs": "double",
    "revenue_lift_rel": "double",
    "revenue_lift_ci_low": "double",
    "revenue_lift_ci_high": "double",
    "revenue_t_statistic": "double",
    "revenue_degrees_of_freedom": "double",
    "revenue_p_value": "double",
    "revenue_p_value_adjusted": "double",
    "revenue_lift_ci_adjusted_low": "double",
    "revenue_lift_ci_adjusted_high": "double",
    "conversion_min_detectable_effect": "double",
    "revenue_min_detectable_effect": "double",
    "min_members_per_arm_conversion": "bigint",
    "min_members_per_arm_revenue": "bigint",
    "alpha": "double",
    "alpha_adjusted_conversion": "double",
    "alpha_adjusted_revenue": "double",
    "power": "double",
    "attribution_window_days": "integer",
    "is_conversion_significant": "boolean",
    "is_revenue_significant": "boolean",
    "is_conversion_significant_adjusted": "boolean",
    "is_revenue_significant_adjusted": "boolean",
    "is_sample_adequate": "boolean",
    "is_window_complete": "boolean",
    "first_assigned_at": "timestamp",
    "last_assigned_at": "timestamp",
    "as_of_date": "date",
}


@dataclass(frozen=True)
class LiftSettings:
    """vars experiments__*: test level, power and the minimum effects worth detecting."""

    alpha: float
    power: float
    min_detectable_effect_conversion: float
    min_detectable_effect_revenue: float
    attribution_window_days: int

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or not 0 < self.power < 1:
            raise ValueError(f"alpha {self.alpha} and power {self.power} must lie in (0, 1)")
        if self.min_detectable_effect_conversion <= 0 or self.min_detectable_effect_revenue <= 0:
            raise ValueError("minimum detectable effects must be positive")


def settings_from_config(config: Mapping[str, object]) -> LiftSettings:
    """LiftSettings from the model's YAML config (rendered from the experiments__ vars)."""
    return LiftSettings(
        alpha=float(config["alpha"]),
        power=float(config["power"]),
        min_detectable_effect_conversion=float(config["min_detectable_effect_conversion"]),
        min_detectable_effect_revenue=float(config["min_detectable_effect_revenue"]),
        attribution_window_days=int(config["attribution_window_days"]),
    )


def _arm(rows: pd.DataFrame, variant: str) -> dict[str, float]:
    """One arm's aggregates; an arm with no row counts as empty."""
    arm = rows[rows["variant"] == variant]
    if arm.empty:
        return {"members": 0, "conversions": 0, "revenue": 0.0, "mean": math.nan, "var": math.nan}
    row = arm.iloc[0]
    return {
        "members": int(row["members"]),
        "conversions": int(row["conversions"]),
        "revenue": float(row["revenue"]) if pd.notna(row["revenue"]) else 0.0,
        "mean": _float(row["revenue_per_member"]),
        "var": _float(row["revenue_variance"]),
    }


def _float(value: object) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _below(p_value: float, alpha: float) -> bool | None:
    return None if math.isnan(p_value) else p_value < alpha


def _count(value: float) -> int | None:
    return None if math.isnan(value) else int(value)


def _campaign_row(rows: pd.DataFrame, settings: LiftSettings) -> dict[str, object]:
    treated, control = _arm(rows, TREATMENT), _arm(rows, CONTROL)
    first = rows.iloc[0]
    conversion = compare_proportions(
        treated["conversions"], treated["members"], control["conversions"], control["members"]
    )
    revenue = welch_from_aggregates(
        treated["members"],
        treated["mean"],
        treated["var"],
        control["members"],
        control["mean"],
        control["var"],
    )
    sd = pooled_standard_deviation(
        treated["members"], treated["var"], control["members"], control["var"]
    )
    # Adequacy from the observed baseline (control rate, pooled sd), never the observed effect.
    min_conversion = min_n_per_arm_proportions(
        conversion.rate_control,
        settings.min_detectable_effect_conversion,
        settings.alpha,
        settings.power,
    )
    min_revenue = min_n_per_arm_means(
        sd, settings.min_detectable_effect_revenue, settings.alpha, settings.power
    )
    smallest_arm = min(treated["members"], control["members"])
    adequate = (
        not math.isnan(min_conversion)
        and not math.isnan(min_revenue)
        and smallest_arm >= max(min_conversion, min_revenue)
    )
    return {
        "campaign_id": first["campaign_id"],
        "channel": first["channel"],
        "conversion_source": first["conversion_source"],
        "members_treatment": treated["members"],
        "members_control": control["members"],
        "members_in_both_arms": int(first["members_in_both_arms"]),
        "conversions_treatment": treated["conversions"],
        "conversions_control": control["conversions"],
        **_conversion_columns(conversion, settings.alpha),
        "revenue_treatment": treated["revenue"],
        "revenue_control": control["revenue"],
        **_revenue_columns(revenue, settings.alpha),
        "conversion_min_detectable_effect": conversion_minimum_detectable_effect(
            conversion.rate_control,
            treated["members"],
            control["members"],
            settings.alpha,
            settings.power,
        ),
        "revenue_min_detectable_effect": mean_minimum_detectable_effect(
            sd, treated["members"], control["members"], settings.alpha, settings.power
        ),
        "min_members_per_arm_conversion": _count(min_conversion),
        "min_members_per_arm_revenue": _count(min_revenue),
        "alpha": settings.alpha,
        "power": settings.power,
        "attribution_window_days": settings.attribution_window_days,
        "is_sample_adequate": adequate,
        "is_window_complete": bool(rows["is_window_complete"].all()),
        "first_assigned_at": rows["first_assigned_at"].min(),
        "last_assigned_at": rows["last_assigned_at"].max(),
        "as_of_date": first["as_of_date"],
        "_conversion": conversion,
        "_revenue": revenue,
    }


def _conversion_columns(result: ProportionComparison, alpha: float) -> dict[str, object]:
    low, high = result.interval(alpha)
    return {
        "conversion_rate_treatment": result.rate_treatment,
        "conversion_rate_control": result.rate_control,
        "conversion_lift_abs": result.lift_abs,
        "conversion_lift_rel": relative_lift(result.rate_treatment, result.rate_control),
        "conversion_lift_ci_low": low,
        "conversion_lift_ci_high": high,
        "conversion_test": result.method,
        "conversion_p_value": result.p_value,
        "conversion_fisher_p_value": result.fisher_p_value,
        "is_conversion_significant": _below(result.p_value, alpha),
    }


def _revenue_columns(result: MeanComparison, alpha: float) -> dict[str, object]:
    low, high = result.interval(alpha)
    return {
        "revenue_per_member_treatment": result.mean_treatment,
        "revenue_per_member_control": result.mean_control,
        "revenue_lift_abs": result.lift_abs,
        "revenue_lift_rel": relative_lift(result.mean_treatment, result.mean_control),
        "revenue_lift_ci_low": low,
        "revenue_lift_ci_high": high,
        "revenue_t_statistic": result.t_statistic,
        "revenue_degrees_of_freedom": result.degrees_of_freedom,
        "revenue_p_value": result.p_value,
        "is_revenue_significant": _below(result.p_value, alpha),
    }


def adjust_family(rows: list[dict[str, object]], metric: str, alpha: float) -> None:
    """BH across the campaigns of the run for one metric (inference.adjust_rows): sets
    `<metric>_p_value_adjusted`, `<metric>_lift_ci_adjusted_low/high`,
    `alpha_adjusted_<metric>` and `is_<metric>_significant_adjusted`."""
    adjust_rows(rows, metric, alpha, f"{metric}_lift_ci_adjusted", f"alpha_adjusted_{metric}")


def campaign_lift_frame(arms: pd.DataFrame, settings: LiftSettings) -> pd.DataFrame:
    """One row per campaign (LIFT_SCHEMA) from campaign_arm_summary rows (ARM_COLUMNS)."""
    if arms.empty:
        return pd.DataFrame({column: pd.Series([], dtype="object") for column in LIFT_SCHEMA})
    rows = [
        _campaign_row(campaign_rows, settings)
        for _, campaign_rows in arms.groupby("campaign_id", sort=True)
    ]
    for metric in ("conversion", "revenue"):
        adjust_family(rows, metric, settings.alpha)
    frame = pd.DataFrame(rows, columns=list(LIFT_SCHEMA))
    # NaN (undefined statistic) -> None, so DuckDB stores null rather than NaN.
    return frame.astype(object).where(frame.notna(), None)
