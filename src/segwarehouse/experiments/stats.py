"""Two-arm experiment statistics from per-arm aggregates (treatment vs control).

Pure functions of counts, means and variances, so SQL can aggregate millions of members and
Python only sees one row per campaign arm. Undefined quantities (an empty arm, no variance,
a zero baseline for a relative lift) are NaN, never an exception: a campaign without a control
group still gets a row, with nulls where nothing can be said.

Conversion: two-proportion z-test, pooled standard error for the test statistic and unpooled
(Wald) standard error for the confidence interval of the difference, as statsmodels'
`proportions_ztest` and `confint_proportions_2indep(method="wald")` do.
Revenue per member: Welch's t-test and Welch confidence interval from n, mean and sample
variance (ddof = 1) per arm, as scipy's `ttest_ind(equal_var=False)`.
Sample sizes: normal-approximation minimum n per arm (equal arms) to detect a minimum effect
at two-sided alpha with the given power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

NAN = float("nan")


@dataclass(frozen=True)
class ProportionTest:
    """Treatment minus control for a conversion rate."""

    rate_treatment: float
    rate_control: float
    lift_abs: float
    lift_rel: float
    z_statistic: float
    p_value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class MeanTest:
    """Treatment minus control for a mean (revenue per member), Welch."""

    mean_treatment: float
    mean_control: float
    lift_abs: float
    lift_rel: float
    t_statistic: float
    degrees_of_freedom: float
    p_value: float
    ci_low: float
    ci_high: float


def _finite(*values: float) -> bool:
    return all(value is not None and math.isfinite(value) for value in values)


def relative_lift(treatment: float, control: float) -> float:
    """(treatment - control) / control; NaN when the control value is 0 or unknown."""
    if not _finite(treatment, control) or control == 0:
        return NAN
    return (treatment - control) / control


def two_proportion_ztest(
    conversions_treatment: int,
    n_treatment: int,
    conversions_control: int,
    n_control: int,
    alpha: float,
) -> ProportionTest:
    """Two-sided two-proportion z-test and the (1 - alpha) Wald interval of the difference.

    z uses the pooled rate (the null hypothesis says both arms share it); the interval uses
    each arm's own rate. An empty arm gives NaN rates and statistics; a pooled rate of 0 or 1
    (no variance at all) gives NaN z and p-value, and a zero-width interval at the difference.
    """
    _check_counts(conversions_treatment, n_treatment)
    _check_counts(conversions_control, n_control)
    rate_t = conversions_treatment / n_treatment if n_treatment > 0 else NAN
    rate_c = conversions_control / n_control if n_control > 0 else NAN
    if n_treatment == 0 or n_control == 0:
        return ProportionTest(rate_t, rate_c, NAN, NAN, NAN, NAN, NAN, NAN)
    diff = rate_t - rate_c
    pooled = (conversions_treatment + conversions_control) / (n_treatment + n_control)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_treatment + 1 / n_control))
    if se_pooled > 0:
        z = diff / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z)))
    else:
        z = p_value = NAN
    se_unpooled = math.sqrt(rate_t * (1 - rate_t) / n_treatment + rate_c * (1 - rate_c) / n_control)
    half_width = float(stats.norm.ppf(1 - alpha / 2)) * se_unpooled
    return ProportionTest(
        rate_treatment=rate_t,
        rate_control=rate_c,
        lift_abs=diff,
        lift_rel=relative_lift(rate_t, rate_c),
        z_statistic=z,
        p_value=p_value,
        ci_low=diff - half_width,
        ci_high=diff + half_width,
    )


def welch_ttest(
    n_treatment: int,
    mean_treatment: float,
    variance_treatment: float,
    n_control: int,
    mean_control: float,
    variance_control: float,
    alpha: float,
) -> MeanTest:
    """Two-sided Welch t-test and (1 - alpha) Welch interval of the difference in means.

    Variances are sample variances (ddof = 1). Each arm needs at least two members (a
    variance); otherwise, or when both variances are 0, the test and interval are NaN.
    Degrees of freedom by Welch-Satterthwaite.
    """
    mean_t = mean_treatment if n_treatment > 0 else NAN
    mean_c = mean_control if n_control > 0 else NAN
    diff = mean_t - mean_c if _finite(mean_t, mean_c) else NAN
    lift_rel = relative_lift(mean_t, mean_c)
    undefined = MeanTest(mean_t, mean_c, diff, lift_rel, NAN, NAN, NAN, NAN, NAN)
    if n_treatment < 2 or n_control < 2 or not _finite(variance_treatment, variance_control):
        return undefined
    share_t = variance_treatment / n_treatment
    share_c = variance_control / n_control
    se = math.sqrt(share_t + share_c)
    if se == 0:
        return undefined
    df = (share_t + share_c) ** 2 / (share_t**2 / (n_treatment - 1) + share_c**2 / (n_control - 1))
    t = diff / se
    half_width = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return MeanTest(
        mean_treatment=mean_t,
        mean_control=mean_c,
        lift_abs=diff,
        lift_rel=lift_rel,
        t_statistic=t,
        degrees_of_freedom=df,
        p_value=float(2 * stats.t.sf(abs(t), df)),
        ci_low=diff - half_width,
        ci_high=diff + half_width,
    )


def min_n_per_arm_proportions(
    baseline_rate: float, min_detectable_effect: float, alpha: float, power: float
) -> float:
    """Members per arm to detect baseline_rate -> baseline_rate + effect (absolute).

    n = (z_{1-a/2} sqrt(2 p_bar (1 - p_bar)) + z_{power} sqrt(p1 (1 - p1) + p2 (1 - p2)))^2
        / effect^2, rounded up (Fleiss, without continuity correction). NaN when the baseline
    is unknown, the effect is not positive or the target rate leaves [0, 1].
    """
    p1 = baseline_rate
    p2 = baseline_rate + min_detectable_effect
    if not _finite(p1, min_detectable_effect) or min_detectable_effect <= 0 or not 0 <= p1 <= 1:
        return NAN
    if p2 > 1:
        return NAN
    p_bar = (p1 + p2) / 2
    z_alpha = float(stats.norm.ppf(1 - alpha / 2))
    z_power = float(stats.norm.ppf(power))
    root = z_alpha * math.sqrt(2 * p_bar * (1 - p_bar)) + z_power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return float(math.ceil(root**2 / min_detectable_effect**2))


def min_n_per_arm_means(
    standard_deviation: float, min_detectable_effect: float, alpha: float, power: float
) -> float:
    """Members per arm to detect a difference in means of min_detectable_effect.

    n = 2 (z_{1-a/2} + z_{power})^2 sd^2 / effect^2, rounded up (normal approximation, equal
    variances and arms). NaN when sd is unknown or the effect is not positive; 1 when sd = 0.
    """
    if not _finite(standard_deviation, min_detectable_effect) or min_detectable_effect <= 0:
        return NAN
    z_sum = float(stats.norm.ppf(1 - alpha / 2)) + float(stats.norm.ppf(power))
    return float(max(1, math.ceil(2 * z_sum**2 * standard_deviation**2 / min_detectable_effect**2)))


def pooled_standard_deviation(
    n_treatment: int, variance_treatment: float, n_control: int, variance_control: float
) -> float:
    """sqrt of the pooled sample variance of two arms; NaN with fewer than 2 members in all."""
    arms = [
        (n, variance)
        for n, variance in ((n_treatment, variance_treatment), (n_control, variance_control))
        if n >= 2 and _finite(variance)
    ]
    degrees = sum(n - 1 for n, _ in arms)
    if degrees == 0:
        return NAN
    return math.sqrt(sum((n - 1) * variance for n, variance in arms) / degrees)


def _check_counts(conversions: int, n: int) -> None:
    if n < 0 or conversions < 0 or conversions > n:
        raise ValueError(f"conversions {conversions} must lie in [0, n = {n}]")
