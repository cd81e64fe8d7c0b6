"""segwarehouse.experiments.stats against scipy on raw per-member arrays, and edge cases.

The functions see only per-arm aggregates (n, conversions, mean, sample variance); every
check here starts from simulated member-level data and computes the reference independently:
scipy's chi-square test of the 2x2 table (chi2 = z^2), scipy's Welch t-test and its interval,
and the textbook formulas re-derived on the arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from segwarehouse.experiments.stats import (
    min_n_per_arm_means,
    min_n_per_arm_proportions,
    pooled_standard_deviation,
    relative_lift,
    two_proportion_ztest,
    welch_ttest,
)

ALPHA = 0.05


def _arms(seed: int, n_t: int, n_c: int, p_t: float, p_c: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random(n_t) < p_t).astype(float), (rng.random(n_c) < p_c).astype(float)


@pytest.mark.parametrize(
    ("seed", "n_t", "n_c", "p_t", "p_c"),
    [(1, 5000, 500, 0.04, 0.02), (2, 800, 800, 0.30, 0.25), (3, 120, 40, 0.5, 0.6)],
)
def test_two_proportion_ztest_matches_scipy_on_member_arrays(
    seed: int, n_t: int, n_c: int, p_t: float, p_c: float
) -> None:
    treated, control = _arms(seed, n_t, n_c, p_t, p_c)
    result = two_proportion_ztest(int(treated.sum()), n_t, int(control.sum()), n_c, ALPHA)

    table = [
        [treated.sum(), n_t - treated.sum()],
        [control.sum(), n_c - control.sum()],
    ]
    chi2, chi2_p, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.z_statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(chi2_p, rel=1e-9)
    assert math.copysign(1, result.z_statistic) == math.copysign(1, treated.mean() - control.mean())

    assert result.rate_treatment == pytest.approx(treated.mean())
    assert result.rate_control == pytest.approx(control.mean())
    diff = treated.mean() - control.mean()
    assert result.lift_abs == pytest.approx(diff)
    assert result.lift_rel == pytest.approx(diff / control.mean())
    # Unpooled (Wald) interval: each arm's own Bernoulli variance (ddof = 0) over its n.
    se = math.sqrt(treated.var() / n_t + control.var() / n_c)
    z = stats.norm.ppf(1 - ALPHA / 2)
    assert result.ci_low == pytest.approx(diff - z * se)
    assert result.ci_high == pytest.approx(diff + z * se)


def test_two_proportion_ztest_textbook_value() -> None:
    # 40/1000 vs 20/1000: pooled p 0.03, se sqrt(0.03 * 0.97 * 0.002) = 0.0076288, z = 2.6216.
    result = two_proportion_ztest(40, 1000, 20, 1000, ALPHA)
    assert result.z_statistic == pytest.approx(0.02 / math.sqrt(0.03 * 0.97 * 0.002))
    assert result.z_statistic == pytest.approx(2.6216, abs=1e-4)
    assert result.p_value == pytest.approx(0.00875, abs=1e-4)
    assert result.lift_rel == pytest.approx(1.0)


def test_zero_conversions_in_both_arms_gives_no_test_but_no_crash() -> None:
    result = two_proportion_ztest(0, 500, 0, 50, ALPHA)
    assert result.rate_treatment == 0 and result.rate_control == 0
    assert result.lift_abs == 0
    assert math.isnan(result.lift_rel)  # relative to a zero baseline
    assert math.isnan(result.z_statistic) and math.isnan(result.p_value)
    assert result.ci_low == 0 and result.ci_high == 0


def test_zero_conversions_in_control_only() -> None:
    result = two_proportion_ztest(10, 500, 0, 50, ALPHA)
    _, chi2_p, _, _ = stats.chi2_contingency([[10, 490], [0, 50]], correction=False)
    assert result.p_value == pytest.approx(chi2_p)
    assert math.isnan(result.lift_rel)
    assert result.lift_abs == pytest.approx(0.02)


def test_empty_control_arm_gives_nulls_not_a_crash() -> None:
    conversion = two_proportion_ztest(10, 500, 0, 0, ALPHA)
    assert conversion.rate_treatment == pytest.approx(0.02)
    for value in (
        conversion.rate_control,
        conversion.lift_abs,
        conversion.lift_rel,
        conversion.z_statistic,
        conversion.p_value,
        conversion.ci_low,
        conversion.ci_high,
    ):
        assert math.isnan(value)
    revenue = welch_ttest(500, 3.2, 10.0, 0, NAN_INPUT, NAN_INPUT, ALPHA)
    assert revenue.mean_treatment == pytest.approx(3.2)
    for value in (
        revenue.mean_control,
        revenue.lift_abs,
        revenue.lift_rel,
        revenue.t_statistic,
        revenue.degrees_of_freedom,
        revenue.p_value,
        revenue.ci_low,
        revenue.ci_high,
    ):
        assert math.isnan(value)


NAN_INPUT = float("nan")


def test_identical_arms_show_no_lift() -> None:
    conversion = two_proportion_ztest(30, 600, 30, 600, ALPHA)
    assert conversion.lift_abs == 0 and conversion.lift_rel == 0
    assert conversion.z_statistic == 0 and conversion.p_value == pytest.approx(1.0)
    assert conversion.ci_low == pytest.approx(-conversion.ci_high)

    values = np.random.default_rng(7).lognormal(3, 1, size=300)
    revenue = welch_ttest(
        300, values.mean(), values.var(ddof=1), 300, values.mean(), values.var(ddof=1), ALPHA
    )
    reference = stats.ttest_ind(values, values, equal_var=False)
    assert revenue.t_statistic == 0 and revenue.p_value == pytest.approx(reference.pvalue)
    assert revenue.degrees_of_freedom == pytest.approx(598)


@pytest.mark.parametrize(
    ("seed", "n_t", "n_c", "zero_share"),
    [(11, 4000, 400, 0.96), (12, 300, 900, 0.5), (13, 25, 7, 0.0)],
)
def test_welch_ttest_matches_scipy_on_member_arrays(
    seed: int, n_t: int, n_c: int, zero_share: float
) -> None:
    # Revenue per member: mostly zeros (no conversion) and a skewed amount for converters.
    rng = np.random.default_rng(seed)
    treated = np.where(rng.random(n_t) < zero_share, 0.0, rng.lognormal(4.2, 0.6, n_t))
    control = np.where(rng.random(n_c) < zero_share, 0.0, rng.lognormal(4.0, 0.8, n_c))
    result = welch_ttest(
        n_t, treated.mean(), treated.var(ddof=1), n_c, control.mean(), control.var(ddof=1), ALPHA
    )
    reference = stats.ttest_ind(treated, control, equal_var=False)
    assert result.t_statistic == pytest.approx(reference.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.degrees_of_freedom == pytest.approx(reference.df, rel=1e-9)
    interval = reference.confidence_interval(confidence_level=1 - ALPHA)
    assert result.ci_low == pytest.approx(interval.low, rel=1e-9)
    assert result.ci_high == pytest.approx(interval.high, rel=1e-9)
    assert result.lift_abs == pytest.approx(treated.mean() - control.mean())
    assert result.lift_rel == pytest.approx(treated.mean() / control.mean() - 1)


def test_welch_needs_two_members_and_some_variance() -> None:
    one_member = welch_ttest(1, 5.0, NAN_INPUT, 10, 2.0, 1.0, ALPHA)
    assert one_member.lift_abs == 3.0 and math.isnan(one_member.p_value)
    no_variance = welch_ttest(10, 0.0, 0.0, 10, 0.0, 0.0, ALPHA)
    assert no_variance.lift_abs == 0 and math.isnan(no_variance.t_statistic)
    assert math.isnan(no_variance.lift_rel)


def _proportion_power(n: int, p1: float, p2: float, alpha: float) -> float:
    """Power of the pooled two-sided z-test with n per arm (normal approximation)."""
    p_bar = (p1 + p2) / 2
    se_null = math.sqrt(2 * p_bar * (1 - p_bar) / n)
    se_alt = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    return float(stats.norm.cdf((abs(p2 - p1) - stats.norm.ppf(1 - alpha / 2) * se_null) / se_alt))


@pytest.mark.parametrize(
    ("baseline", "effect", "power"), [(0.02, 0.01, 0.8), (0.10, 0.05, 0.9), (0.0, 0.01, 0.8)]
)
def test_min_n_for_proportions_is_the_smallest_n_reaching_the_power(
    baseline: float, effect: float, power: float
) -> None:
    n = min_n_per_arm_proportions(baseline, effect, ALPHA, power)
    assert n == int(n) and n > 1
    assert _proportion_power(int(n), baseline, baseline + effect, ALPHA) >= power - 1e-9
    assert _proportion_power(int(n) - 1, baseline, baseline + effect, ALPHA) < power


def test_min_n_for_proportions_known_value_and_degenerate_inputs() -> None:
    # 2% -> 3% at alpha 0.05, power 0.8, by hand: (1.95996 * sqrt(2 * 0.025 * 0.975)
    # + 0.84162 * sqrt(0.02 * 0.98 + 0.03 * 0.97))^2 / 0.01^2 = 3,825.1 -> 3,826 per arm.
    assert min_n_per_arm_proportions(0.02, 0.01, 0.05, 0.8) == 3826
    assert math.isnan(min_n_per_arm_proportions(NAN_INPUT, 0.01, ALPHA, 0.8))
    assert math.isnan(min_n_per_arm_proportions(0.5, 0.0, ALPHA, 0.8))
    assert math.isnan(min_n_per_arm_proportions(0.995, 0.01, ALPHA, 0.8))


def test_min_n_for_means_is_the_smallest_n_reaching_the_power() -> None:
    sd, effect, power = 25.0, 2.0, 0.8
    n = min_n_per_arm_means(sd, effect, ALPHA, power)

    def means_power(members: int) -> float:
        se = sd * math.sqrt(2 / members)
        return float(stats.norm.cdf(effect / se - stats.norm.ppf(1 - ALPHA / 2)))

    assert means_power(int(n)) >= power and means_power(int(n) - 1) < power
    assert math.isnan(min_n_per_arm_means(NAN_INPUT, effect, ALPHA, power))
    assert min_n_per_arm_means(0.0, effect, ALPHA, power) == 1


def test_pooled_standard_deviation_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 2, 50), rng.normal(3, 5, 20)
    expected = math.sqrt(
        (np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)) / (len(a) + len(b) - 2)
    )
    assert pooled_standard_deviation(50, a.var(ddof=1), 20, b.var(ddof=1)) == pytest.approx(
        expected
    )
    # An empty control arm: the treatment arm alone.
    alone = pooled_standard_deviation(50, a.var(ddof=1), 0, NAN_INPUT)
    assert alone == pytest.approx(a.std(ddof=1))
    assert math.isnan(pooled_standard_deviation(1, NAN_INPUT, 0, NAN_INPUT))


def test_relative_lift() -> None:
    assert relative_lift(0.03, 0.02) == pytest.approx(0.5)
    assert math.isnan(relative_lift(0.03, 0.0))
    assert math.isnan(relative_lift(NAN_INPUT, 0.02))


def test_counts_outside_their_range_are_refused() -> None:
    with pytest.raises(ValueError, match="conversions"):
        two_proportion_ztest(11, 10, 0, 10, ALPHA)
