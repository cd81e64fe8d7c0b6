"""CLV models: parameter recovery on simulated histories, closed forms against simulation, and
degenerate inputs that must not break the build."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from segwarehouse.ml.clv import (
    CLV_SCHEMA,
    PARAMS_SCHEMA,
    BgNbdParams,
    ClvSettings,
    GammaGammaParams,
    _bg_nbd_data,
    _bg_nbd_total_log_likelihood,
    _gamma_gamma_data,
    _gamma_gamma_total_log_likelihood,
    bg_nbd_expected_purchases,
    bg_nbd_log_likelihood,
    bg_nbd_probability_alive,
    fit_bg_nbd,
    fit_clv_parameters,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    predict_clv,
    simulate_bg_nbd,
    simulate_gamma_gamma,
)

# Published CDNOW estimates (FHL 2005, weeks) with alpha rescaled to days.
TRUE_BG_NBD = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
TRUE_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)
BG_NBD_INPUTS = ("frequency", "recency_clv_days", "age_clv_days")


def relative_errors(fitted: object, true: object, names: tuple[str, ...]) -> dict[str, float]:
    return {name: abs(getattr(fitted, name) / getattr(true, name) - 1) for name in names}


def test_bg_nbd_recovers_the_parameters_it_was_simulated_with() -> None:
    rng = np.random.default_rng(7)
    observation_days = rng.uniform(180, 540, 20_000)
    history = simulate_bg_nbd(TRUE_BG_NBD, observation_days, seed=8)
    fitted = fit_bg_nbd(history["frequency"], history["recency"], history["T"])
    errors = relative_errors(fitted, TRUE_BG_NBD, ("r", "alpha", "a", "b"))
    # r and alpha are sharply identified; a and b (the dropout Beta) much less so.
    assert errors["r"] < 0.10 and errors["alpha"] < 0.10, errors
    assert errors["a"] < 0.25 and errors["b"] < 0.25, errors


def test_gamma_gamma_recovers_the_parameters_it_was_simulated_with() -> None:
    rng = np.random.default_rng(9)
    frequency = rng.integers(1, 12, 20_000)
    spend = simulate_gamma_gamma(TRUE_GAMMA_GAMMA, frequency, seed=10)
    fitted = fit_gamma_gamma(frequency, spend)
    errors = relative_errors(fitted, TRUE_GAMMA_GAMMA, ("p", "q", "v"))
    assert max(errors.values()) < 0.15, errors
    # the population mean spend p v / (q - 1) is recovered closely
    mean = fitted.p * fitted.v / (fitted.q - 1)
    true_mean = TRUE_GAMMA_GAMMA.p * TRUE_GAMMA_GAMMA.v / (TRUE_GAMMA_GAMMA.q - 1)
    assert abs(mean / true_mean - 1) < 0.05


def test_expected_purchases_of_a_new_customer_match_simulation() -> None:
    # A customer first seen today (x = t_x = T = 0): eq. 10 reduces to E[X(t)], the mean
    # number of repeat purchases a simulated customer makes in t days.
    horizon = 365
    history = simulate_bg_nbd(TRUE_BG_NBD, np.full(200_000, float(horizon)), seed=11)
    expected = bg_nbd_expected_purchases(TRUE_BG_NBD, horizon, [0.0], [0.0], [0.0])[0]
    assert abs(expected / history["frequency"].mean() - 1) < 0.02


def test_probability_alive_and_expectations_behave() -> None:
    params = TRUE_BG_NBD
    # no repeat purchase: alive for sure; a long silence after many purchases: likely gone
    alive = bg_nbd_probability_alive(params, [0, 10, 10], [0, 300, 30], [300, 300, 300])
    assert alive[0] == 1.0
    assert alive[1] > 0.9 > 0.1 > alive[2]
    short = bg_nbd_expected_purchases(params, 90, [3], [200], [300])
    long = bg_nbd_expected_purchases(params, 365, [3], [200], [300])
    assert 0 < short[0] < long[0]
    spend = gamma_gamma_expected_spend(TRUE_GAMMA_GAMMA, [0, 1, 50], [0, 100, 100])
    population_mean = TRUE_GAMMA_GAMMA.p * TRUE_GAMMA_GAMMA.v / (TRUE_GAMMA_GAMMA.q - 1)
    assert spend[0] == pytest.approx(population_mean)
    # more transactions pull the estimate towards the customer's own mean
    assert abs(spend[2] - 100) < abs(spend[1] - 100)


def simulated_rfm(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    history = simulate_bg_nbd(TRUE_BG_NBD, rng.integers(30, 700, n).astype(float), seed=seed)
    frequency = history["frequency"].to_numpy()
    spend = np.where(
        frequency > 0,
        simulate_gamma_gamma(TRUE_GAMMA_GAMMA, np.maximum(frequency, 1), seed=seed),
        0.0,
    )
    return pd.DataFrame(
        {
            "customer_key": [f"cus_{i:05d}" for i in range(n)],
            "frequency": frequency,
            "recency_clv_days": np.floor(history["recency"]).astype(int),
            "age_clv_days": history["T"].astype(int),
            "monetary_clv": spend,
        }
    )


def test_fit_and_predict_end_to_end() -> None:
    rfm = simulated_rfm(3_000, seed=12)
    # prospects (no completed order) have null CLV inputs and are ignored
    rfm.loc[len(rfm)] = ["cus_prospect", None, None, None, None]
    params = fit_clv_parameters(rfm, "2026-06-30")
    assert list(params.columns) == list(PARAMS_SCHEMA)
    assert set(params["parameter"]) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert (params["value"] > 0).all()
    assert set(params["fitted_at"]) == {"2026-06-30"}
    clv = predict_clv(rfm, params, "2026-06-30", ClvSettings(365, 0.1))
    assert list(clv.columns) == list(CLV_SCHEMA)
    assert len(clv) == 3_000 and clv["customer_key"].is_unique
    assert clv["probability_alive"].between(0, 1).all()
    assert (clv["expected_purchases_90d"] <= clv["expected_purchases_365d"] + 1e-9).all()
    assert (clv["clv"] <= clv["expected_revenue"] + 1e-6).all()
    assert (clv["clv"] > 0).all()
    # no discounting: CLV equals the expected revenue over the horizon
    undiscounted = predict_clv(rfm, params, "2026-06-30", ClvSettings(365, 0.0))
    np.testing.assert_allclose(undiscounted["clv"], undiscounted["expected_revenue"], rtol=1e-9)
    # deterministic
    pd.testing.assert_frame_equal(params, fit_clv_parameters(rfm, "2026-06-30"))


@pytest.mark.parametrize(
    "rfm",
    [
        pd.DataFrame(
            columns=[
                "customer_key",
                "frequency",
                "recency_clv_days",
                "age_clv_days",
                "monetary_clv",
            ]
        ),
        pd.DataFrame(
            {
                "customer_key": ["a", "b"],
                "frequency": [1, 0],
                "recency_clv_days": [5, 0],
                "age_clv_days": [10, 3],
                "monetary_clv": [20.0, 0.0],
            }
        ),
        # many buyers, none of whom came back
        pd.DataFrame(
            {
                "customer_key": [f"c{i}" for i in range(100)],
                "frequency": [0] * 100,
                "recency_clv_days": [0] * 100,
                "age_clv_days": [50] * 100,
                "monetary_clv": [0.0] * 100,
            }
        ),
        # only prospects
        pd.DataFrame(
            {
                "customer_key": ["a"],
                "frequency": [None],
                "recency_clv_days": [None],
                "age_clv_days": [None],
                "monetary_clv": [None],
            }
        ),
    ],
    ids=["no customers", "too few", "no repeat buyers", "only prospects"],
)
def test_degenerate_inputs_give_no_fit_and_an_empty_result(
    rfm: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="segwarehouse.ml.clv"):
        params = fit_clv_parameters(rfm, "2026-06-30")
    assert params.empty and list(params.columns) == list(PARAMS_SCHEMA)
    assert "not fitted" in caplog.text
    clv = predict_clv(rfm, params, "2026-06-30")
    assert clv.empty and list(clv.columns) == list(CLV_SCHEMA)


def test_few_repeat_buyers_fit_bg_nbd_only(caplog: pytest.LogCaptureFixture) -> None:
    rfm = simulated_rfm(300, seed=13)
    repeaters = rfm.index[rfm["frequency"] > 0]
    rfm.loc[repeaters[5:], ["frequency", "recency_clv_days", "monetary_clv"]] = [0, 0, 0.0]
    with caplog.at_level(logging.WARNING, logger="segwarehouse.ml.clv"):
        params = fit_clv_parameters(rfm, "2026-06-30")
    assert set(params["model_name"]) == {"bg_nbd"}
    assert "Gamma-Gamma not fitted" in caplog.text
    clv = predict_clv(rfm, params, "2026-06-30")
    assert len(clv) == 300
    assert clv["clv"].isna().all() and clv["probability_alive"].notna().all()


# --- the fast likelihoods are the published ones ---------------------------------------------


def reference_fit(negative_ll, starts: list[np.ndarray]) -> np.ndarray:
    """Derivative-free maximum likelihood over log-parameters (the first implementation)."""
    best = None
    for start in starts:
        result = optimize.minimize(
            negative_ll,
            start,
            method="Nelder-Mead",
            options={"maxiter": 8000, "xatol": 1e-9, "fatol": 1e-13},
        )
        result = optimize.minimize(negative_ll, result.x, method="L-BFGS-B")
        if best is None or result.fun < best.fun:
            best = result
    return np.exp(best.x)


@pytest.fixture(scope="module")
def repeated_histories() -> pd.DataFrame:
    # whole days, as in customer_rfm: many customers share a (x, t_x, T) triple
    rfm = simulated_rfm(4_000, seed=21)
    assert len(rfm[["frequency", "recency_clv_days", "age_clv_days"]].drop_duplicates()) < 3_000
    return rfm


def test_compressed_bg_nbd_likelihood_and_gradient_match_the_per_customer_sum(
    repeated_histories: pd.DataFrame,
) -> None:
    x, t_x, t = (repeated_histories[c].to_numpy(float) for c in BG_NBD_INPUTS)
    data = _bg_nbd_data(x, t_x, t)
    assert data.weights.sum() == len(x) and len(data.weights) < len(x)
    for params in (TRUE_BG_NBD, BgNbdParams(1.3, 5.0, 0.2, 7.0)):
        value, gradient = _bg_nbd_total_log_likelihood(params, data)
        assert value == pytest.approx(bg_nbd_log_likelihood(params, x, t_x, t).sum(), rel=1e-10)
        theta = np.array([params.r, params.alpha, params.a, params.b])
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * theta[i]
            up = bg_nbd_log_likelihood(BgNbdParams(*(theta + step)), x, t_x, t).sum()
            down = bg_nbd_log_likelihood(BgNbdParams(*(theta - step)), x, t_x, t).sum()
            assert gradient[i] == pytest.approx((up - down) / (2 * step[i]), rel=1e-5, abs=1e-4)


def test_bg_nbd_fit_equals_the_per_customer_maximum_likelihood(
    repeated_histories: pd.DataFrame,
) -> None:
    x, t_x, t = (repeated_histories[c].to_numpy(float) for c in BG_NBD_INPUTS)

    def negative_ll(log_params: np.ndarray) -> float:
        params = BgNbdParams(*np.exp(np.clip(log_params, -20, 20)))
        value = -float(np.mean(bg_nbd_log_likelihood(params, x, t_x, t)))
        return value if np.isfinite(value) else 1e10

    scale = float(np.mean(t))
    expected = reference_fit(
        negative_ll, [np.log([1.0, scale, 1.0, 1.0]), np.log([0.5, scale / 4, 0.5, 2.0])]
    )
    fitted = fit_bg_nbd(x, t_x, t)
    np.testing.assert_allclose([fitted.r, fitted.alpha, fitted.a, fitted.b], expected, rtol=1e-4)


def test_gamma_gamma_statistics_gradient_and_fit_match_the_per_customer_likelihood(
    repeated_histories: pd.DataFrame,
) -> None:
    repeat = repeated_histories.loc[repeated_histories["frequency"] > 0]
    x = repeat["frequency"].to_numpy(float)
    m = repeat["monetary_clv"].to_numpy(float)
    data = _gamma_gamma_data(x, m)
    params = GammaGammaParams(3.0, 2.5, 40.0)
    value, gradient = _gamma_gamma_total_log_likelihood(params, data)
    assert value == pytest.approx(gamma_gamma_log_likelihood(params, x, m).sum(), rel=1e-10)
    theta = np.array([params.p, params.q, params.v])
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6 * theta[i]
        up = gamma_gamma_log_likelihood(GammaGammaParams(*(theta + step)), x, m).sum()
        down = gamma_gamma_log_likelihood(GammaGammaParams(*(theta - step)), x, m).sum()
        assert gradient[i] == pytest.approx((up - down) / (2 * step[i]), rel=1e-5, abs=1e-4)

    def negative_ll(log_params: np.ndarray) -> float:
        candidate = GammaGammaParams(*np.exp(np.clip(log_params, -20, 20)))
        value = -float(np.mean(gamma_gamma_log_likelihood(candidate, x, m)))
        return value if np.isfinite(value) else 1e10

    expected = reference_fit(
        negative_ll, [np.log([2.0, 3.0, m.mean()]), np.log([1.0, 2.0, m.mean() / 2])]
    )
    fitted = fit_gamma_gamma(x, m)
    np.testing.assert_allclose([fitted.p, fitted.q, fitted.v], expected, rtol=1e-4)
