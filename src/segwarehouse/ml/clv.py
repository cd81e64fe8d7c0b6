"""Customer lifetime value: BG/NBD (purchase count, probability alive) and Gamma-Gamma (spend).

Published likelihoods, maximised with scipy (no `lifetimes`, which is unmaintained):

* BG/NBD — Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. 6 (the
  likelihood), eq. 10 (expected purchases in (T, T + t] given x, t_x, T) and the probability
  that the customer is still alive. Inputs per customer: x = repeat purchases (here purchase
  days - 1), t_x = first to last purchase, T = first purchase to as_of_date, all in days.
* Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", appendix:
  spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, v); fitted on repeat buyers only (x ≥ 1,
  m_x = mean value of the repeat purchases), giving E[spend | x, m_x].

CLV over a horizon sums expected spend per period (30-day steps) discounted at an annual rate.
`simulate_bg_nbd` / `simulate_gamma_gamma` draw histories from known parameters so the fitters
can be tested by parameter recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

logger = logging.getLogger("segwarehouse.ml.clv")

TIME_UNIT = "days"
BG_NBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "v")
# Fewer fitting customers than this and a model is not fitted (its outputs are null / empty).
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10
PERIOD_DAYS = 30
# A fitted parameter beyond e^±EDGE_LOG (the search is clipped at e^±20) means the likelihood
# kept improving towards a limit: the data shows no heterogeneity to estimate (e.g. every
# buyer with the same history or the same spend). The fit is kept, with a warning.
EDGE_LOG = 15.0


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters (time unit: days)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (spend in reporting currency)."""

    p: float
    q: float
    v: float


def _floats(*values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each of `values` as a float array."""
    return tuple(np.asarray(value, dtype=float) for value in values)


# --- BG/NBD ------------------------------------------------------------------------------


def bg_nbd_log_likelihood(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood (FHL 2005, eq. 6), computed in logs for stability."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, t = _floats(x, t_x, t)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and, per element, the index of its value among them."""
    distinct, codes = np.unique(values, return_inverse=True)
    return distinct, codes.ravel()


@dataclass(frozen=True)
class _BgNbdData:
    """Customers compressed for the BG/NBD likelihood.

    The inputs are whole days, so many customers share a (x, t_x, T) triple: the likelihood is
    a sum over customers, so each distinct triple is evaluated once and weighted by its count.
    Inside a triple, x, t_x and T each take few distinct values (x a few dozen, t_x and T at
    most a few thousand days), so the special functions run on those and are gathered by index.
    """

    weights: np.ndarray  # customers per distinct triple
    x: np.ndarray  # x per distinct triple
    x_values: np.ndarray  # distinct x ...
    x_codes: np.ndarray  # ... and each triple's index into them; likewise for t_x and T
    t_x_values: np.ndarray
    t_x_codes: np.ndarray
    t_values: np.ndarray
    t_codes: np.ndarray
    repeat: np.ndarray  # x > 0 per distinct triple


def _bg_nbd_data(x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> _BgNbdData:
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in (x, t_x, t)])
    triples, counts = np.unique(stacked, axis=0, return_counts=True)
    px, ptx, pt = triples.T
    x_values, x_codes = _codes(px)
    t_x_values, t_x_codes = _codes(ptx)
    t_values, t_codes = _codes(pt)
    return _BgNbdData(
        counts.astype(float),
        px,
        x_values,
        x_codes,
        t_x_values,
        t_x_codes,
        t_values,
        t_codes,
        px > 0,
    )


def _bg_nbd_total_log_likelihood(params: BgNbdParams, data: _BgNbdData) -> tuple[float, np.ndarray]:
    """Sum over customers of `bg_nbd_log_likelihood` (the same terms, on distinct values) and
    its gradient with respect to (r, alpha, a, b)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xv = data.x_values
    xc = data.x_codes
    a1 = special.gammaln(r + xv) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + xv)
        - special.gammaln(b)
        - (special.gammaln(a + b + xv))
    )
    b_x = np.maximum(b + xv - 1, 1e-300)
    r_x = (r + xv)[xc]
    log_alpha_t = np.log(alpha + data.t_values)[data.t_codes]
    a3 = -r_x * log_alpha_t
    a4 = np.full_like(a3, -np.inf)
    log_alpha_tx = np.zeros_like(a3)
    repeat = data.repeat
    log_alpha_tx[repeat] = np.log(alpha + data.t_x_values)[data.t_x_codes[repeat]]
    a4[repeat] = (np.log(a) - np.log(b_x))[xc[repeat]] - r_x[repeat] * log_alpha_tx[repeat]
    mixed = np.logaddexp(a3, a4)
    value = float(np.dot(data.weights, (a1 + a2)[xc] + mixed))
    # d logaddexp(a3, a4) = w3 d a3 + w4 d a4, with w4 = exp(a4 - logaddexp) (0 without repeats)
    w4 = data.weights * np.exp(a4 - mixed)
    w3 = data.weights - w4
    weight_per_x = np.bincount(xc, weights=data.weights, minlength=len(xv))
    w4_per_x = np.bincount(xc, weights=w4, minlength=len(xv))
    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + xv)
    gradient = np.array(
        [
            np.dot(weight_per_x, special.digamma(r + xv) - special.digamma(r) + np.log(alpha))
            - np.dot(w3, log_alpha_t)
            - np.dot(w4, log_alpha_tx),
            r * data.weights.sum() / alpha
            - np.dot(w3 * r_x, 1.0 / (alpha + data.t_values)[data.t_codes])
            - np.dot((w4 * r_x)[repeat], 1.0 / (alpha + data.t_x_values)[data.t_x_codes[repeat]]),
            np.dot(weight_per_x, psi_ab - psi_abx) + w4_per_x.sum() / a,
            np.dot(
                weight_per_x,
                psi_ab + special.digamma(b + xv) - special.digamma(b) - psi_abx,
            )
            - np.dot(w4_per_x[xv > 0], 1.0 / b_x[xv > 0]),
        ]
    )
    return value, gradient


def _maximise(
    total_log_likelihood: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: list[np.ndarray],
    n: float,
) -> np.ndarray:
    """Parameters maximising a log-likelihood, searched over their logarithms from each start.

    L-BFGS-B with the analytic gradient (chain rule: d/d log θ = θ d/dθ); the best start wins.
    Tolerances are tight enough that the optimum agrees with a derivative-free search.
    """

    def negative_mean(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(np.clip(log_params, -20, 20))
        value, gradient = total_log_likelihood(params)
        if not (np.isfinite(value) and np.isfinite(gradient).all()):
            return 1e10, np.zeros_like(log_params)
        return -value / n, -gradient * params / n

    best = None
    for start in starts:
        result = optimize.minimize(
            negative_mean,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
        )
        if best is None or result.fun < best.fun:
            best = result
    return np.exp(best.x)


def fit_bg_nbd(x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters (optimised over their logarithms)."""
    data = _bg_nbd_data(x, t_x, t)
    scale = max(float(np.mean(data.t_values[data.t_codes])), 1.0)  # mean T over triples
    r, alpha, a, b = _maximise(
        lambda params: _bg_nbd_total_log_likelihood(BgNbdParams(*params), data),
        [np.log([1.0, scale, 1.0, 1.0]), np.log([0.5, scale / 4, 0.5, 2.0])],
        data.weights.sum(),
    )
    return BgNbdParams(float(r), float(alpha), float(a), float(b))


def bg_nbd_probability_alive(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """P(customer still active at T | x, t_x, T); 1 for customers without repeat purchases."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, t = _floats(x, t_x, t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
        )
        odds_dead = np.where(x > 0, np.exp(log_ratio), 0.0)
    return 1.0 / (1.0 + odds_dead)


def bg_nbd_expected_purchases(
    params: BgNbdParams, horizon: float, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Expected purchases in (T, T + horizon] given x, t_x, T (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-6:  # removable singularity of the closed form at a = 1
        a = 1.0 + 1e-6
    x, t = _floats(x, t)
    if horizon <= 0:
        return np.zeros_like(x)
    z = horizon / (alpha + t + horizon)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1)
    second = 1.0 - np.exp((r + x) * (np.log(alpha + t) - np.log(alpha + t + horizon))) * hyp
    expected = first * second * bg_nbd_probability_alive(params, x, t_x, t)
    return np.clip(np.nan_to_num(expected, nan=0.0, posinf=0.0), 0.0, None)


# --- Gamma-Gamma --------------------------------------------------------------------------


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend m over x transactions (x ≥ 1, m > 0)."""
    p, q, v = params.p, params.q, params.v
    x, m = _floats(x, m)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


@dataclass(frozen=True)
class _GammaGammaData:
    """Sufficient statistics of the Gamma-Gamma likelihood.

    Summed over customers, every term but log(x m + v) separates into a parameter times a sum
    fixed by the data, and the gamma functions depend on x alone (a few dozen values); only
    log(x m + v) is evaluated per customer.
    """

    x_values: np.ndarray  # distinct x ...
    x_counts: np.ndarray  # ... and how many customers have each
    n: float
    sum_x_log_m: float  # sum of x log m
    sum_log_m: float
    sum_x_log_x: float
    x: np.ndarray  # per customer
    spend: np.ndarray  # x m per customer


def _gamma_gamma_data(x: np.ndarray, m: np.ndarray) -> _GammaGammaData:
    x, m = _floats(x, m)
    x_values, x_counts = np.unique(x, return_counts=True)
    log_m = np.log(m)
    return _GammaGammaData(
        x_values,
        x_counts.astype(float),
        float(len(x)),
        float(np.dot(x, log_m)),
        float(log_m.sum()),
        float(np.dot(x, np.log(x))),
        x,
        x * m,
    )


def _gamma_gamma_total_log_likelihood(
    params: GammaGammaParams, data: _GammaGammaData
) -> tuple[float, np.ndarray]:
    """Sum over customers of `gamma_gamma_log_likelihood`, from the sufficient statistics, and
    its gradient with respect to (p, q, v)."""
    p, q, v = params.p, params.q, params.v
    px = p * data.x_values
    gammas = np.dot(data.x_counts, special.gammaln(px + q) - special.gammaln(px))
    log_total = np.log(data.spend + v)
    sum_x_log_total = float(np.dot(data.x, log_total))
    sum_log_total = float(log_total.sum())
    value = float(
        gammas
        - data.n * special.gammaln(q)
        + data.n * q * np.log(v)
        + p * data.sum_x_log_m
        - data.sum_log_m
        + p * data.sum_x_log_x
        - p * sum_x_log_total
        - q * sum_log_total
    )
    psi_pxq = special.digamma(px + q)
    gradient = np.array(
        [
            np.dot(data.x_counts * data.x_values, psi_pxq - special.digamma(px))
            + data.sum_x_log_m
            + data.sum_x_log_x
            - sum_x_log_total,
            np.dot(data.x_counts, psi_pxq)
            - data.n * special.digamma(q)
            + data.n * np.log(v)
            - sum_log_total,
            data.n * q / v - float(np.sum((p * data.x + q) / (data.spend + v))),
        ]
    )
    return value, gradient


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters (over their logarithms)."""
    data = _gamma_gamma_data(x, m)
    mean_spend = max(float(np.mean(np.asarray(m, dtype=float))), 1e-6)
    # starts where the population mean spend p v / (q - 1) equals the observed mean
    p, q, v = _maximise(
        lambda params: _gamma_gamma_total_log_likelihood(GammaGammaParams(*params), data),
        [np.log([2.0, 3.0, mean_spend]), np.log([1.0, 2.0, mean_spend / 2])],
        data.n,
    )
    return GammaGammaParams(float(p), float(q), float(v))


def gamma_gamma_expected_spend(
    params: GammaGammaParams, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """E[spend per transaction | x, m_x]; the population mean p v / (q - 1) when x = 0."""
    p, q, v = params.p, params.q, params.v
    x = np.asarray(x, dtype=float)
    m = np.nan_to_num(np.asarray(m, dtype=float), nan=0.0)
    if q <= 1:  # population mean is infinite; fall back to the customer's own mean
        return np.where(x > 0, m, np.nan)
    return p * (v + x * m) / (p * x + q - 1)


# --- CLV ------------------------------------------------------------------------------------


def discounted_value(
    params: BgNbdParams,
    expected_spend: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    t: np.ndarray,
    horizon_days: int,
    annual_discount_rate: float,
) -> np.ndarray:
    """Expected spend per 30-day period up to the horizon, each discounted to as_of_date."""
    total = np.zeros(len(np.asarray(x)), dtype=float)
    previous = np.zeros_like(total)
    edges = [*range(PERIOD_DAYS, horizon_days, PERIOD_DAYS), horizon_days]
    for end in edges:
        cumulative = bg_nbd_expected_purchases(params, end, x, t_x, t)
        factor = (1.0 + annual_discount_rate) ** (-end / 365.0)
        total += (cumulative - previous) * expected_spend * factor
        previous = cumulative
    return total


CLV_SCHEMA = {
    "customer_key": "varchar",
    "frequency": "integer",
    "recency_clv_days": "integer",
    "age_clv_days": "integer",
    "monetary_clv": "double",
    "probability_alive": "double",
    "expected_purchases_90d": "double",
    "expected_purchases_365d": "double",
    "expected_spend_per_purchase": "double",
    "expected_revenue": "double",
    "clv": "double",
    "horizon_days": "integer",
    "annual_discount_rate": "double",
    "as_of_date": "date",
}

PARAMS_SCHEMA = {
    "model_name": "varchar",
    "parameter": "varchar",
    "value": "double",
    "time_unit": "varchar",
    "fitted_at": "date",
    "n_customers": "integer",
}


@dataclass(frozen=True)
class ClvSettings:
    """Horizon and discounting of the CLV (vars ml__clv_*)."""

    horizon_days: int = 365
    annual_discount_rate: float = 0.10


def _buyers(rfm: pd.DataFrame) -> pd.DataFrame:
    """Customers with a completed order (prospects have null CLV inputs), in key order."""
    buyers = rfm.dropna(subset=["frequency", "recency_clv_days", "age_clv_days"]).copy()
    buyers["monetary_clv"] = buyers["monetary_clv"].fillna(0.0)
    return buyers.sort_values("customer_key").reset_index(drop=True)


def fit_clv_parameters(rfm: pd.DataFrame, as_of_date: str) -> pd.DataFrame:
    """Fitted parameters in long format (PARAMS_SCHEMA); none when the data cannot support it.

    `rfm` has customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv
    (customer_rfm). BG/NBD needs MIN_CUSTOMERS buyers and at least one repeat purchase;
    Gamma-Gamma needs MIN_REPEAT_CUSTOMERS repeat buyers with positive spend. A model that
    cannot be fitted is left out with a warning.
    """
    buyers = _buyers(rfm)
    x = buyers["frequency"].to_numpy(dtype=float)
    t_x = buyers["recency_clv_days"].to_numpy(dtype=float)
    t = buyers["age_clv_days"].to_numpy(dtype=float)
    m = buyers["monetary_clv"].to_numpy(dtype=float)
    rows: list[dict] = []
    if len(buyers) < MIN_CUSTOMERS or not (x > 0).any():
        logger.warning(
            "BG/NBD not fitted: %d customers with a completed order, %d with a repeat "
            "purchase (needs %d and one); customer_clv will be empty",
            len(buyers),
            int((x > 0).sum()),
            MIN_CUSTOMERS,
        )
        return pd.DataFrame(columns=list(PARAMS_SCHEMA))
    bg = fit_bg_nbd(x, t_x, t)
    _warn_at_edge("BG/NBD", bg)
    rows += [
        {
            "model_name": "bg_nbd",
            "parameter": name,
            "value": getattr(bg, name),
            "n_customers": len(buyers),
        }
        for name in BG_NBD_PARAMETERS
    ]
    repeat = (x > 0) & (m > 0)
    if repeat.sum() < MIN_REPEAT_CUSTOMERS:
        logger.warning(
            "Gamma-Gamma not fitted: %d repeat buyers (needs %d); spend and CLV left null",
            int(repeat.sum()),
            MIN_REPEAT_CUSTOMERS,
        )
    else:
        gg = fit_gamma_gamma(x[repeat], m[repeat])
        _warn_at_edge("Gamma-Gamma", gg)
        rows += [
            {
                "model_name": "gamma_gamma",
                "parameter": name,
                "value": getattr(gg, name),
                "n_customers": int(repeat.sum()),
            }
            for name in GAMMA_GAMMA_PARAMETERS
        ]
    params = pd.DataFrame(rows)
    # Gamma-Gamma has no time scale
    params["time_unit"] = np.where(params["model_name"] == "bg_nbd", TIME_UNIT, None)
    params["fitted_at"] = as_of_date
    return params[list(PARAMS_SCHEMA)]


def _warn_at_edge(model_name: str, params: BgNbdParams | GammaGammaParams) -> None:
    """Warn when a fitted parameter ran to the edge of the search (see EDGE_LOG)."""
    values = vars(params)
    edge = {name: value for name, value in values.items() if abs(np.log(value)) > EDGE_LOG}
    if edge:
        logger.warning(
            "%s parameters %s ran to the edge of the search: the histories show no "
            "heterogeneity to estimate (all alike?); its predictions are extrapolations",
            model_name,
            ", ".join(f"{name}={value:.3g}" for name, value in edge.items()),
        )


def _params_of(parameters: pd.DataFrame, model_name: str, cls: type) -> object | None:
    """The dataclass of one model's fitted parameters, None if it was not fitted."""
    values = parameters.loc[parameters["model_name"] == model_name]
    if values.empty:
        return None
    named = dict(zip(values["parameter"], values["value"].astype(float), strict=True))
    return cls(**named)


def predict_clv(
    rfm: pd.DataFrame,
    parameters: pd.DataFrame,
    as_of_date: str,
    settings: ClvSettings = ClvSettings(),
) -> pd.DataFrame:
    """Per-buyer predictions (CLV_SCHEMA) from fitted parameters (fit_clv_parameters).

    No BG/NBD parameters: no rows. No Gamma-Gamma parameters: spend, revenue and CLV null.
    """
    bg = _params_of(parameters, "bg_nbd", BgNbdParams)
    if bg is None:
        logger.warning("customer_clv empty: BG/NBD was not fitted (clv_model_params)")
        return pd.DataFrame(columns=list(CLV_SCHEMA))
    gg = _params_of(parameters, "gamma_gamma", GammaGammaParams)
    if gg is None:
        logger.warning(
            "expected spend, revenue and CLV null: Gamma-Gamma was not fitted (clv_model_params)"
        )
    buyers = _buyers(rfm)
    x = buyers["frequency"].to_numpy(dtype=float)
    t_x = buyers["recency_clv_days"].to_numpy(dtype=float)
    t = buyers["age_clv_days"].to_numpy(dtype=float)
    m = buyers["monetary_clv"].to_numpy(dtype=float)
    buyers["probability_alive"] = bg_nbd_probability_alive(bg, x, t_x, t)
    buyers["expected_purchases_90d"] = bg_nbd_expected_purchases(bg, 90, x, t_x, t)
    buyers["expected_purchases_365d"] = bg_nbd_expected_purchases(bg, 365, x, t_x, t)
    horizon_purchases = bg_nbd_expected_purchases(bg, settings.horizon_days, x, t_x, t)
    if gg is None:
        spend = np.full(len(buyers), np.nan)
    else:
        spend = gamma_gamma_expected_spend(gg, x, np.where(m > 0, m, 0.0))
    buyers["expected_spend_per_purchase"] = spend
    buyers["expected_revenue"] = horizon_purchases * spend
    buyers["clv"] = discounted_value(
        bg, spend, x, t_x, t, settings.horizon_days, settings.annual_discount_rate
    )
    buyers["horizon_days"] = settings.horizon_days
    buyers["annual_discount_rate"] = settings.annual_discount_rate
    buyers["as_of_date"] = as_of_date
    return buyers[list(CLV_SCHEMA)]


# --- simulation (for parameter-recovery tests) ----------------------------------------------


def simulate_bg_nbd(params: BgNbdParams, observation_days: np.ndarray, seed: int) -> pd.DataFrame:
    """Histories drawn from the BG/NBD story: x, t_x, T per customer (first purchase at 0)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(observation_days, dtype=float)
    n = len(t)
    rates = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    now = np.zeros(n)
    x = np.zeros(n, dtype=int)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / rates[idx])
        inside = now[idx] <= t[idx]
        buying = idx[inside]
        x[buying] += 1
        t_x[buying] = now[buying]
        active[idx[~inside]] = False
        # after each purchase the customer becomes inactive with probability p
        active[buying[rng.random(len(buying)) < dropout[buying]]] = False
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": t})


def simulate_gamma_gamma(params: GammaGammaParams, frequency: np.ndarray, seed: int) -> np.ndarray:
    """Mean spend over `frequency` transactions per customer under the Gamma-Gamma story."""
    rng = np.random.default_rng(seed)
    frequency = np.asarray(frequency, dtype=int)
    nu = rng.gamma(params.q, 1.0 / params.v, len(frequency))
    # the sum of x Gamma(p, nu) draws is Gamma(p x, nu)
    totals = rng.gamma(params.p * frequency, 1.0 / nu)
    return totals / frequency
