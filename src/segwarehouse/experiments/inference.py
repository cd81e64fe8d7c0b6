"""Small-sample-correct two-arm comparisons whose interval and test agree by construction.

Every comparison here is a p-value *and* an interval function `interval(alpha)` built so that
`0 is outside interval(alpha)` exactly when `p_value < alpha`, for every alpha. That is what lets
a table report a p-value, a confidence interval and a Benjamini-Hochberg decision that never
contradict each other (docs/experiments.md, "Statistics").

Conversion (difference of two proportions):
- interval: Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the two
  Wilson score intervals that scipy's `binomtest(...).proportion_ci(method="wilson")` gives.
- p-value: the test the interval inverts, `p_newcombe = sup{alpha : 0 in interval(alpha)}`
  (found by bisection; the interval widens monotonically as alpha falls).
- small counts (an expected cell of the 2x2 table below `SMALL_EXPECTED_COUNT`): Fisher's exact
  test as well, two-sided by the central method (twice the smaller one-sided p, Fay 2010).
  The reported p is max(p_newcombe, p_fisher), and the interval is the Newcombe interval at
  the stricter level alpha * p_newcombe / p, widened exactly as far as the more conservative
  exact test asks, so the two still agree.

Revenue per member (difference of means):
- Welch's t-test and its t interval (same standard error and Welch-Satterthwaite df: dual),
  as scipy's `ttest_ind(equal_var=False)`.
- skewed and small arms: a percentile bootstrap of the difference (scipy.stats.bootstrap,
  resampling within arms); the interval at level 1 - alpha is the pair of order statistics
  (k, B - 1 - k) with k = ceil(B alpha / 2) - 1, and the p-value is 2 min(#{d* <= 0},
  #{d* >= 0}) / B, which is below alpha exactly when 0 lies outside that pair.

Multiplicity: Benjamini-Hochberg adjusted p-values (scipy `false_discovery_control`) and
false-coverage-rate adjusted intervals (Benjamini & Yekutieli 2005): with R rejections among
m tests, intervals at level 1 - R alpha / m, which exclude 0 exactly for the BH rejections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

NAN = float("nan")
SMALL_EXPECTED_COUNT = 5.0
P_VALUE_FLOOR = 1e-15
_BISECTION_STEPS = 200


def _finite(*values: float) -> bool:
    return all(value is not None and math.isfinite(value) for value in values)


def check_counts(successes: int, n: int) -> None:
    """Raise ValueError unless 0 <= successes <= n."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"conversions {successes} must lie in [0, n = {n}]")


def wilson_interval(successes: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy binomtest, method='wilson')."""
    ci = stats.binomtest(successes, n).proportion_ci(1 - alpha, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_interval(
    successes_t: int, n_t: int, successes_c: int, n_c: int, alpha: float
) -> tuple[float, float]:
    """Newcombe (1998) hybrid score interval of p_t - p_c at level 1 - alpha (method 10)."""
    p_t, p_c = successes_t / n_t, successes_c / n_c
    low_t, high_t = wilson_interval(successes_t, n_t, alpha)
    low_c, high_c = wilson_interval(successes_c, n_c, alpha)
    diff = p_t - p_c
    low = diff - math.sqrt((p_t - low_t) ** 2 + (high_c - p_c) ** 2)
    high = diff + math.sqrt((high_t - p_t) ** 2 + (p_c - low_c) ** 2)
    return max(-1.0, low), min(1.0, high)


def _dual_p_value(excludes_zero: Callable[[float], bool]) -> float:
    """sup{alpha : the interval at alpha contains 0}, for an interval shrinking in alpha.

    Resolved down to P_VALUE_FLOOR (scipy's Wilson interval needs 1 - alpha/2 < 1 in floating
    point): a smaller p-value is reported as the floor, an upper bound.
    """
    lo, hi = P_VALUE_FLOOR, 1.0 - 1e-12
    if excludes_zero(lo):
        return lo
    if not excludes_zero(hi):
        return 1.0
    # Bisection on log(alpha): p-values span many orders of magnitude.
    log_lo, log_hi = math.log(lo), math.log(hi)
    for _ in range(_BISECTION_STEPS):
        mid = (log_lo + log_hi) / 2
        if excludes_zero(math.exp(mid)):
            log_hi = mid
        else:
            log_lo = mid
        if log_hi - log_lo < 1e-13:
            break
    return math.exp(log_hi)


def newcombe_p_value(successes_t: int, n_t: int, successes_c: int, n_c: int) -> float:
    """The p-value of the test the Newcombe interval inverts (0 in the interval iff p >= alpha)."""

    def excludes_zero(alpha: float) -> bool:
        low, high = newcombe_interval(successes_t, n_t, successes_c, n_c, alpha)
        return low > 0 or high < 0

    return _dual_p_value(excludes_zero)


def fisher_central_p_value(successes_t: int, n_t: int, successes_c: int, n_c: int) -> float:
    """Fisher's exact test, two-sided by doubling the smaller one-sided p (capped at 1)."""
    table = [[successes_t, n_t - successes_t], [successes_c, n_c - successes_c]]
    less = stats.fisher_exact(table, alternative="less").pvalue
    greater = stats.fisher_exact(table, alternative="greater").pvalue
    return float(min(1.0, 2 * min(less, greater)))


def min_expected_count(successes_t: int, n_t: int, successes_c: int, n_c: int) -> float:
    """Smallest expected cell of the 2x2 table under independence (Cochran's rule of 5)."""
    total = n_t + n_c
    successes = successes_t + successes_c
    failures = total - successes
    return min(n * margin / total for n in (n_t, n_c) for margin in (successes, failures))


@dataclass(frozen=True)
class ProportionComparison:
    """Treatment minus control for a conversion rate, with a dual test and interval."""

    successes_t: int
    n_t: int
    successes_c: int
    n_c: int
    method: str
    p_value: float
    newcombe_p_value: float
    fisher_p_value: float

    @property
    def rate_treatment(self) -> float:
        return self.successes_t / self.n_t if self.n_t else NAN

    @property
    def rate_control(self) -> float:
        return self.successes_c / self.n_c if self.n_c else NAN

    @property
    def lift_abs(self) -> float:
        if not self.n_t or not self.n_c:
            return NAN
        return self.rate_treatment - self.rate_control

    def interval(self, alpha: float) -> tuple[float, float]:
        """(1 - alpha) interval; excludes 0 exactly when p_value < alpha."""
        if math.isnan(self.p_value):
            return NAN, NAN
        level = alpha
        if self.p_value > self.newcombe_p_value > 0:
            level = alpha * self.newcombe_p_value / self.p_value
        return newcombe_interval(self.successes_t, self.n_t, self.successes_c, self.n_c, level)


def compare_proportions(
    successes_t: int, n_t: int, successes_c: int, n_c: int
) -> ProportionComparison:
    """Newcombe interval and its dual p; Fisher's exact test joins in when counts are small.

    An empty arm gives NaN throughout (method 'none'). Both arms at 0 % (or both at 100 %)
    give p = 1 and an interval around 0.
    """
    check_counts(successes_t, n_t)
    check_counts(successes_c, n_c)
    if n_t == 0 or n_c == 0:
        return ProportionComparison(successes_t, n_t, successes_c, n_c, "none", NAN, NAN, NAN)
    p_newcombe = newcombe_p_value(successes_t, n_t, successes_c, n_c)
    if min_expected_count(successes_t, n_t, successes_c, n_c) >= SMALL_EXPECTED_COUNT:
        return ProportionComparison(
            successes_t, n_t, successes_c, n_c, "newcombe", p_newcombe, p_newcombe, NAN
        )
    p_fisher = fisher_central_p_value(successes_t, n_t, successes_c, n_c)
    return ProportionComparison(
        successes_t,
        n_t,
        successes_c,
        n_c,
        "fisher_exact+newcombe",
        max(p_newcombe, p_fisher),
        p_newcombe,
        p_fisher,
    )


@dataclass(frozen=True)
class MeanComparison:
    """Treatment minus control for a mean (revenue per member): Welch or bootstrap."""

    method: str
    mean_treatment: float
    mean_control: float
    p_value: float
    t_statistic: float = NAN
    degrees_of_freedom: float = NAN
    standard_error: float = NAN
    replicates: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def lift_abs(self) -> float:
        if not _finite(self.mean_treatment, self.mean_control):
            return NAN
        return self.mean_treatment - self.mean_control

    def interval(self, alpha: float) -> tuple[float, float]:
        """(1 - alpha) interval; excludes 0 exactly when p_value < alpha."""
        if self.method == "welch":
            half = float(stats.t.ppf(1 - alpha / 2, self.degrees_of_freedom)) * self.standard_error
            return self.lift_abs - half, self.lift_abs + half
        if self.method == "bootstrap":
            return percentile_interval(self.replicates, alpha)
        return NAN, NAN


def welch_from_aggregates(
    n_t: int, mean_t: float, variance_t: float, n_c: int, mean_c: float, variance_c: float
) -> MeanComparison:
    """Welch's t-test from n, mean and sample variance (ddof 1) per arm (scipy, from stats).

    Fewer than two members in an arm, or an arm without any variation (variance 0: a holdout
    where nobody bought), gives method 'none' and NaN: the test would take that arm's mean as
    known exactly and call small differences certain.
    """
    mean_t = mean_t if n_t > 0 else NAN
    mean_c = mean_c if n_c > 0 else NAN
    if n_t < 2 or n_c < 2 or not _finite(variance_t, variance_c, mean_t, mean_c):
        return MeanComparison("none", mean_t, mean_c, NAN)
    if variance_t == 0 or variance_c == 0:
        return MeanComparison("none", mean_t, mean_c, NAN)
    share_t, share_c = variance_t / n_t, variance_c / n_c
    se = math.sqrt(share_t + share_c)
    result = stats.ttest_ind_from_stats(
        mean_t, math.sqrt(variance_t), n_t, mean_c, math.sqrt(variance_c), n_c, equal_var=False
    )
    df = (share_t + share_c) ** 2 / (share_t**2 / (n_t - 1) + share_c**2 / (n_c - 1))
    return MeanComparison(
        "welch",
        mean_t,
        mean_c,
        float(result.pvalue),
        t_statistic=float(result.statistic),
        degrees_of_freedom=df,
        standard_error=se,
    )


def percentile_interval(replicates: np.ndarray, alpha: float) -> tuple[float, float]:
    """Order statistics k and B - 1 - k of the sorted replicates, k = ceil(B alpha / 2) - 1."""
    ordered = np.sort(replicates)
    count = len(ordered)
    k = min(max(0, math.ceil(count * alpha / 2) - 1), (count - 1) // 2)
    return float(ordered[k]), float(ordered[count - 1 - k])


def bootstrap_p_value(replicates: np.ndarray) -> float:
    """2 min(#{d* <= 0}, #{d* >= 0}) / B, capped at 1: dual of percentile_interval."""
    at_most = int(np.count_nonzero(replicates <= 0))
    at_least = int(np.count_nonzero(replicates >= 0))
    return min(1.0, 2 * min(at_most, at_least) / len(replicates))


def bootstrap_difference(
    treatment: np.ndarray, control: np.ndarray, resamples: int, seed: int
) -> MeanComparison:
    """Percentile bootstrap of mean(treatment) - mean(control), resampling within arms."""
    if len(treatment) < 2 or len(control) < 2:
        return MeanComparison("none", _mean(treatment), _mean(control), NAN)

    def difference(t: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(t, axis=axis) - np.mean(c, axis=axis)

    result = stats.bootstrap(
        (treatment, control),
        difference,
        n_resamples=resamples,
        vectorized=True,
        paired=False,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    replicates = np.asarray(result.bootstrap_distribution, dtype=float)
    return MeanComparison(
        "bootstrap",
        float(np.mean(treatment)),
        float(np.mean(control)),
        bootstrap_p_value(replicates),
        replicates=replicates,
    )


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else NAN


def sample_skewness(values: np.ndarray) -> float:
    """Adjusted Fisher-Pearson skewness (scipy skew, bias=False); NaN below 3 values or 0 sd."""
    if len(values) < 3 or float(np.std(values)) == 0:
        return NAN
    return float(stats.skew(values, bias=False))


def compare_means(
    treatment: np.ndarray,
    control: np.ndarray,
    skew_threshold: float,
    bootstrap_max_members: int,
    resamples: int,
    seed: int,
) -> MeanComparison:
    """Bootstrap when an arm is skewed beyond skew_threshold and the smaller arm holds at most
    bootstrap_max_members (the central limit theorem covers larger arms); Welch otherwise.

    No test (method 'none') when an arm has no variation at all: a holdout of 28 with no
    buyer says little about its mean, yet both tests would take that mean as exact.
    """
    if any(len(values) > 1 and float(np.ptp(values)) == 0 for values in (treatment, control)):
        # An arm without variation (a holdout where nobody bought): both Welch and the
        # bootstrap would treat its mean as known exactly, and call tiny differences certain.
        return MeanComparison("none", _mean(treatment), _mean(control), NAN)
    skews = [sample_skewness(treatment), sample_skewness(control)]
    skewed = any(_finite(skew) and abs(skew) > skew_threshold for skew in skews)
    if skewed and min(len(treatment), len(control)) <= bootstrap_max_members:
        return bootstrap_difference(treatment, control, resamples, seed)
    return welch_from_aggregates(
        len(treatment),
        _mean(treatment),
        float(np.var(treatment, ddof=1)) if len(treatment) > 1 else NAN,
        len(control),
        _mean(control),
        float(np.var(control, ddof=1)) if len(control) > 1 else NAN,
    )


Comparison = ProportionComparison | MeanComparison


@dataclass(frozen=True)
class FamilyAdjustment:
    """Benjamini-Hochberg over one family of tests, with the matching interval level."""

    adjusted_p_values: list[float]
    rejected: list[bool | None]
    interval_alpha: float


def benjamini_hochberg(p_values: Sequence[float], alpha: float) -> FamilyAdjustment:
    """BH adjusted p-values (scipy false_discovery_control) over the defined p-values.

    NaN p-values (no test) stay NaN and are not counted in m. The interval level for the
    false coverage rate is R alpha / m (Benjamini & Yekutieli 2005), alpha / m when R = 0.
    """
    values = np.asarray(p_values, dtype=float)
    defined = ~np.isnan(values)
    adjusted = np.full(len(values), NAN)
    m = int(defined.sum())
    if m == 0:
        return FamilyAdjustment(adjusted.tolist(), [None] * len(values), alpha)
    adjusted[defined] = stats.false_discovery_control(values[defined], method="bh")
    rejected: list[bool | None] = [
        None if math.isnan(q) else bool(q <= alpha) for q in adjusted.tolist()
    ]
    count = sum(1 for flag in rejected if flag)
    return FamilyAdjustment(adjusted.tolist(), rejected, alpha * max(count, 1) / m)


def adjust_rows(
    rows: list[dict[str, object]],
    metric: str,
    alpha: float,
    interval_prefix: str,
    alpha_column: str | None = None,
) -> None:
    """Benjamini-Hochberg over the rows' `_<metric>` comparisons (one family: the campaigns or
    experiments of a run), in place: `<metric>_p_value_adjusted`, `<interval_prefix>_low` /
    `_high` (the false-coverage-rate interval, which excludes 0 exactly for the rejections),
    `is_<metric>_significant_adjusted` and, when named, `alpha_column` (the interval's level).
    """
    comparisons: list[Comparison] = [row[f"_{metric}"] for row in rows]  # type: ignore[misc]
    family = benjamini_hochberg([item.p_value for item in comparisons], alpha)
    for row, item, q, flag in zip(
        rows, comparisons, family.adjusted_p_values, family.rejected, strict=True
    ):
        low, high = item.interval(family.interval_alpha)
        row[f"{metric}_p_value_adjusted"] = q
        row[f"{interval_prefix}_low"] = low
        row[f"{interval_prefix}_high"] = high
        row[f"is_{metric}_significant_adjusted"] = flag
        if alpha_column:
            row[alpha_column] = family.interval_alpha


def conversion_minimum_detectable_effect(
    rate_control: float, n_t: int, n_c: int, alpha: float, power: float
) -> float:
    """Smallest absolute lift over rate_control that the arms detect with the given power.

    Power of the two-sided normal test of two proportions with unequal arms (Fleiss):
    Phi((delta - z_{1-a/2} sqrt(pbar qbar (1/n_t + 1/n_c))) / sqrt(p_t q_t / n_t + p_c q_c / n_c)),
    solved for delta (scipy brentq). NaN when an arm is empty or no lift reaches the power.
    """
    if n_t == 0 or n_c == 0 or not _finite(rate_control):
        return NAN
    z_alpha = float(stats.norm.ppf(1 - alpha / 2))

    def shortfall(delta: float) -> float:
        p_t = rate_control + delta
        pbar = (n_t * p_t + n_c * rate_control) / (n_t + n_c)
        null_se = math.sqrt(pbar * (1 - pbar) * (1 / n_t + 1 / n_c))
        alt_se = math.sqrt(p_t * (1 - p_t) / n_t + rate_control * (1 - rate_control) / n_c)
        if alt_se == 0:
            return 1 - power
        return float(stats.norm.cdf((delta - z_alpha * null_se) / alt_se)) - power

    top = 1 - rate_control
    if top <= 0 or shortfall(top) < 0:
        return NAN
    return float(optimize.brentq(shortfall, 1e-12, top, xtol=1e-10))


def mean_minimum_detectable_effect(
    standard_deviation: float, n_t: int, n_c: int, alpha: float, power: float
) -> float:
    """(z_{1-a/2} + z_power) sd sqrt(1/n_t + 1/n_c): smallest mean difference detected."""
    if n_t == 0 or n_c == 0 or not _finite(standard_deviation):
        return NAN
    z_sum = float(stats.norm.ppf(1 - alpha / 2)) + float(stats.norm.ppf(power))
    return z_sum * standard_deviation * math.sqrt(1 / n_t + 1 / n_c)
