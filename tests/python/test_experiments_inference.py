"""segwarehouse.experiments.inference: published values, scipy references, and the duality
(interval excludes 0 exactly when p < alpha) that keeps the result tables consistent."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from segwarehouse.experiments.inference import (
    benjamini_hochberg,
    bootstrap_difference,
    compare_means,
    compare_proportions,
    conversion_minimum_detectable_effect,
    fisher_central_p_value,
    mean_minimum_detectable_effect,
    newcombe_interval,
    welch_from_aggregates,
)
from segwarehouse.experiments.stats import two_proportion_ztest

ALPHA = 0.05


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 10), (-0.2775, 0.2775)),
        ((10, 10, 0, 10), (0.6075, 1.0000)),
    ],
)
def test_newcombe_interval_matches_the_published_values(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    low, high = newcombe_interval(*counts, ALPHA)
    assert (round(low, 4), round(high, 4)) == expected


def test_the_demo_contradiction_is_gone() -> None:
    # 40/500 treated vs 1/55 held out: the old Wald interval excludes 0 while the pooled
    # z-test says p = 0.096 and Fisher's exact test p = 0.108.
    old = two_proportion_ztest(40, 500, 1, 55, ALPHA)
    assert old.ci_low > 0 and old.p_value > ALPHA
    assert stats.fisher_exact([[40, 460], [1, 54]]).pvalue == pytest.approx(0.108, abs=1e-3)

    new = compare_proportions(40, 500, 1, 55)
    assert new.method == "fisher_exact+newcombe"  # the control expects < 5 conversions
    assert new.fisher_p_value == pytest.approx(fisher_central_p_value(40, 500, 1, 55))
    assert new.p_value > ALPHA
    low, high = new.interval(ALPHA)
    assert low < 0 < high


def test_fisher_central_p_is_twice_the_smaller_one_sided_p() -> None:
    table = [[3, 17], [12, 8]]
    less = stats.fisher_exact(table, alternative="less").pvalue
    greater = stats.fisher_exact(table, alternative="greater").pvalue
    assert fisher_central_p_value(3, 20, 12, 20) == pytest.approx(2 * min(less, greater))
    assert fisher_central_p_value(5, 10, 5, 10) == 1.0


def _random_tables(count: int) -> list[tuple[int, int, int, int]]:
    rng = np.random.default_rng(7)
    tables = []
    for _ in range(count):
        n_t, n_c = int(rng.integers(5, 800)), int(rng.integers(5, 120))
        rate = rng.uniform(0, 0.3)
        tables.append(
            (
                int(rng.binomial(n_t, rate + rng.uniform(0, 0.1))),
                n_t,
                int(rng.binomial(n_c, rate)),
                n_c,
            )
        )
    return tables


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_proportion_interval_excludes_zero_exactly_when_p_is_below_alpha(alpha: float) -> None:
    disagreements = []
    for table in _random_tables(60):
        result = compare_proportions(*table)
        low, high = result.interval(alpha)
        if (low > 0 or high < 0) != (result.p_value < alpha):
            disagreements.append((table, result.p_value, low, high))
    assert disagreements == []


def test_small_counts_use_the_more_conservative_of_fisher_and_newcombe() -> None:
    result = compare_proportions(9, 40, 1, 30)
    assert result.method == "fisher_exact+newcombe"
    assert result.p_value == max(result.fisher_p_value, result.newcombe_p_value)
    large = compare_proportions(300, 3000, 240, 3000)
    assert large.method == "newcombe" and math.isnan(large.fisher_p_value)
    # With large counts the Newcombe test is close to the pooled z-test.
    z = two_proportion_ztest(300, 3000, 240, 3000, ALPHA)
    assert large.p_value == pytest.approx(z.p_value, rel=0.05)


def test_an_empty_arm_gives_no_test_and_bad_counts_raise() -> None:
    empty = compare_proportions(10, 100, 0, 0)
    assert empty.method == "none" and math.isnan(empty.p_value)
    assert all(math.isnan(value) for value in empty.interval(ALPHA))
    with pytest.raises(ValueError, match="conversions 11 must lie in"):
        compare_proportions(11, 10, 0, 5)


def test_welch_from_aggregates_matches_scipy_on_member_arrays() -> None:
    rng = np.random.default_rng(3)
    treated, control = rng.gamma(2.0, 3.0, 400), rng.gamma(2.0, 2.5, 60)
    result = welch_from_aggregates(
        400, treated.mean(), treated.var(ddof=1), 60, control.mean(), control.var(ddof=1)
    )
    reference = stats.ttest_ind(treated, control, equal_var=False)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    interval = reference.confidence_interval(1 - ALPHA)
    assert result.interval(ALPHA) == pytest.approx((interval.low, interval.high), rel=1e-9)


def _skewed_arms(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    treated = np.where(rng.random(300) < 0.08, rng.lognormal(3, 1, 300), 0.0)
    control = np.where(rng.random(40) < 0.05, rng.lognormal(3, 1, 40), 0.0)
    return treated, control


def test_bootstrap_interval_is_scipys_percentile_interval() -> None:
    treated, control = _skewed_arms(1)
    result = bootstrap_difference(treated, control, 4000, seed=5)
    reference = stats.bootstrap(
        (treated, control),
        lambda t, c, axis=-1: t.mean(axis=axis) - c.mean(axis=axis),
        n_resamples=4000,
        paired=False,
        method="percentile",
        rng=np.random.default_rng(5),
    )
    low, high = result.interval(ALPHA)
    # Order statistics vs numpy's interpolated percentiles of the same replicates.
    spread = float(np.std(result.replicates))
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.02 * spread)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.02 * spread)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.3])
def test_bootstrap_interval_excludes_zero_exactly_when_p_is_below_alpha(alpha: float) -> None:
    for seed in range(12):
        treated, control = _skewed_arms(seed)
        result = bootstrap_difference(treated, control, 999, seed=seed)
        low, high = result.interval(alpha)
        assert (low > 0 or high < 0) == (result.p_value < alpha), seed


def test_compare_means_bootstraps_only_skewed_small_arms() -> None:
    treated, control = _skewed_arms(2)
    assert compare_means(treated, control, 2.0, 1000, 999, seed=1).method == "bootstrap"
    assert compare_means(treated, control, 2.0, 10, 999, seed=1).method == "welch"
    rng = np.random.default_rng(0)
    normal = compare_means(rng.normal(5, 1, 300), rng.normal(5, 1, 40), 2.0, 1000, 999, seed=1)
    assert normal.method == "welch"
    # A holdout where nobody bought: no revenue test rather than a spuriously certain one.
    flat = compare_means(treated, np.zeros(28), 2.0, 1000, 999, seed=1)
    assert flat.method == "none" and math.isnan(flat.p_value)
    assert flat.mean_control == 0 and flat.mean_treatment == pytest.approx(treated.mean())


def test_benjamini_hochberg_matches_scipy_and_fcr_intervals_agree() -> None:
    p_values = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, math.nan]
    family = benjamini_hochberg(p_values, ALPHA)
    expected = stats.false_discovery_control(p_values[:-1], method="bh")
    assert family.adjusted_p_values[:-1] == pytest.approx(list(expected))
    assert math.isnan(family.adjusted_p_values[-1]) and family.rejected[-1] is None
    rejected = [flag for flag in family.rejected if flag]
    assert len(rejected) == 2
    assert family.interval_alpha == pytest.approx(ALPHA * 2 / 8)
    # A rejection has p below the FCR level, a non-rejection does not.
    for p, flag in zip(p_values[:-1], family.rejected[:-1], strict=True):
        assert (p < family.interval_alpha) == flag


def test_benjamini_hochberg_keeps_decisions_consistent_with_fcr_intervals() -> None:
    tables = _random_tables(30)
    results = [compare_proportions(*table) for table in tables]
    family = benjamini_hochberg([result.p_value for result in results], ALPHA)
    for result, flag in zip(results, family.rejected, strict=True):
        low, high = result.interval(family.interval_alpha)
        assert (low > 0 or high < 0) == flag


def test_minimum_detectable_effects_reach_the_power_exactly() -> None:
    mde = conversion_minimum_detectable_effect(0.02, 600, 60, ALPHA, 0.8)
    assert 0 < mde < 0.98
    # At the MDE the power of the normal test is 0.8 (simulate with the z-test's power formula).
    p_t = 0.02 + mde
    pbar = (600 * p_t + 60 * 0.02) / 660
    null_se = math.sqrt(pbar * (1 - pbar) * (1 / 600 + 1 / 60))
    alt_se = math.sqrt(p_t * (1 - p_t) / 600 + 0.02 * 0.98 / 60)
    power = stats.norm.cdf((mde - stats.norm.ppf(0.975) * null_se) / alt_se)
    assert power == pytest.approx(0.8, abs=1e-6)
    # More members, smaller detectable effects.
    assert conversion_minimum_detectable_effect(0.02, 6000, 600, ALPHA, 0.8) < mde
    assert math.isnan(conversion_minimum_detectable_effect(0.02, 600, 0, ALPHA, 0.8))
    revenue = mean_minimum_detectable_effect(10.0, 600, 60, ALPHA, 0.8)
    assert revenue == pytest.approx(
        (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 10 * math.sqrt(1 / 600 + 1 / 60)
    )
