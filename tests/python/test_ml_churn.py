"""Churn propensity: point-in-time features (no leakage), labels, a learnable signal on
synthetic customers, and degenerate inputs that must not break the build."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from segwarehouse.ml.churn import (
    FEATURES,
    IMPORTANCE_SCHEMA,
    METRICS_SCHEMA,
    SCORES_SCHEMA,
    ChurnSettings,
    churn_labels,
    evaluate,
    expected_calibration_error,
    feature_importance,
    point_in_time_features,
    risk_band,
    score_customers,
    stratified_sample,
    training_cutoff,
    training_set,
)

AS_OF = date(2026, 6, 30)
# Retraining daily (period 1): the training cutoff is as_of_date minus the horizon; anchors to
# longer periods are test_scheduled_fits'.
SETTINGS = ChurnSettings(
    horizon_days=90, cv_folds=3, seed=1, min_training_customers=50, retrain_every_days=1
)


def synthetic_history(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers buying at their own rate, some of whom stop at a random date."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    orders, sessions = [], []
    for i in range(n):
        key = f"cus_{i:04d}"
        rate = rng.gamma(2.0, 1 / 60)  # purchases per day
        stop = start + pd.Timedelta(days=int(rng.uniform(0, 1100)))
        day = start + pd.Timedelta(days=int(rng.exponential(60)))
        while day <= pd.Timestamp(AS_OF) and day <= stop:
            status = rng.choice(["completed", "completed", "completed", "returned", "cancelled"])
            orders.append((key, day.date(), status, float(rng.gamma(2, 40))))
            sessions.append((key, day - pd.Timedelta(hours=2)))
            day += pd.Timedelta(days=max(1, int(rng.exponential(1 / rate))))
    return (
        pd.DataFrame(
            orders, columns=["customer_key", "order_date", "status", "order_total_reporting"]
        ),
        pd.DataFrame(sessions, columns=["customer_key", "session_started_at"]),
    )


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_history(600, seed=3)


def test_orders_after_the_cutoff_do_not_change_training_features(history) -> None:
    orders, sessions = history
    cutoff = training_cutoff(AS_OF, SETTINGS)
    assert cutoff == AS_OF - timedelta(days=90)
    before = point_in_time_features(orders, sessions, cutoff)
    # move every later order and session somewhere else, add new later ones, change later totals
    later = pd.to_datetime(orders["order_date"]) > pd.Timestamp(cutoff)
    tampered = orders.copy()
    tampered.loc[later, "order_total_reporting"] *= 100
    tampered.loc[later, "status"] = "completed"
    extra = pd.DataFrame(
        {
            "customer_key": before.index[:50],
            "order_date": cutoff + timedelta(days=1),
            "status": "completed",
            "order_total_reporting": 1e6,
        }
    )
    extra_sessions = pd.DataFrame(
        {
            "customer_key": before.index[:50],
            "session_started_at": pd.Timestamp(cutoff) + pd.Timedelta(days=1, hours=1),
        }
    )
    after = point_in_time_features(
        pd.concat([tampered, extra]), pd.concat([sessions, extra_sessions]), cutoff
    )
    pd.testing.assert_frame_equal(before, after)
    # and a customer whose first order is after the cutoff is not in the training set
    newcomer = pd.DataFrame(
        {
            "customer_key": ["cus_new"],
            "order_date": [cutoff + timedelta(1)],
            "status": ["completed"],
            "order_total_reporting": [10.0],
        }
    )
    assert (
        "cus_new"
        not in point_in_time_features(pd.concat([orders, newcomer]), sessions, cutoff).index
    )


def test_features_and_labels_on_a_hand_made_history() -> None:
    orders = pd.DataFrame(
        {
            "customer_key": ["a", "a", "a", "b", "b"],
            "order_date": [
                date(2026, 1, 1),
                date(2026, 3, 1),
                date(2026, 3, 1),
                date(2026, 2, 1),
                date(2026, 4, 15),
            ],
            "status": ["completed", "completed", "returned", "completed", "completed"],
            "order_total_reporting": [10.0, 20.0, 5.0, 7.0, 8.0],
        }
    )
    features = point_in_time_features(orders, pd.DataFrame(), date(2026, 3, 31))
    assert list(features.columns) == list(FEATURES)
    a = features.loc["a"]
    assert (a["recency_days"], a["tenure_days"], a["purchase_days"]) == (30, 89, 2)
    assert a["net_revenue"] == 30.0 and a["return_rate"] == pytest.approx(1 / 3)
    assert a["mean_gap_days"] == 59
    assert np.isnan(features.loc["b", "mean_gap_days"])  # one purchase day only
    labels = churn_labels(orders, features.index, date(2026, 3, 31), 90)
    assert labels.to_dict() == {"a": 1, "b": 0}  # b bought on 15 April, a did not


def test_a_learnable_signal_gives_calibrated_scores_and_metrics(history) -> None:
    orders, sessions = history
    scores = score_customers(orders, sessions, AS_OF, SETTINGS)
    assert list(scores.columns) == list(SCORES_SCHEMA)
    assert scores["customer_key"].is_unique and len(scores) > 300
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["churn_risk_band"]) <= {"low", "medium", "high"}
    metrics = evaluate(orders, sessions, AS_OF, SETTINGS).set_index("metric")["value"]
    assert metrics["roc_auc"] > 0.7, metrics
    assert 0 <= metrics["expected_calibration_error"] < 0.15
    assert 0 <= metrics["brier_score"] < 0.25
    importance = feature_importance(orders, sessions, AS_OF, SETTINGS)
    assert list(importance.columns) == list(IMPORTANCE_SCHEMA)
    assert sorted(importance["importance_rank"]) == list(range(1, len(FEATURES) + 1))
    # deterministic
    pd.testing.assert_frame_equal(scores, score_customers(orders, sessions, AS_OF, SETTINGS))


def test_risk_bands_and_calibration_error() -> None:
    bands = risk_band(np.array([0.0, 0.49, 0.5, 0.79, 0.8, 1.0]), ChurnSettings())
    assert list(bands) == ["low", "low", "medium", "medium", "high", "high"]
    labels = np.array([0, 1] * 50)
    assert expected_calibration_error(labels, np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(100, 0.9)) == pytest.approx(0.4)


EMPTY_ORDERS = pd.DataFrame(
    columns=["customer_key", "order_date", "status", "order_total_reporting"]
)
EMPTY_SESSIONS = pd.DataFrame(columns=["customer_key", "session_started_at"])


@pytest.mark.parametrize(
    "orders",
    [
        EMPTY_ORDERS,
        # a handful of customers
        pd.DataFrame(
            {
                "customer_key": ["a", "b"],
                "order_date": [date(2026, 1, 1)] * 2,
                "status": ["completed"] * 2,
                "order_total_reporting": [1.0, 2.0],
            }
        ),
        # plenty of customers, all of whom churned (one class) and identical (constant features)
        pd.DataFrame(
            {
                "customer_key": [f"c{i}" for i in range(300)],
                "order_date": [date(2025, 1, 1)] * 300,
                "status": ["completed"] * 300,
                "order_total_reporting": [5.0] * 300,
            }
        ),
    ],
    ids=["no orders", "too few customers", "one class, constant features"],
)
def test_degenerate_inputs_give_empty_scores_and_a_warning(
    orders: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="segwarehouse.ml.churn"):
        scores = score_customers(orders, EMPTY_SESSIONS, AS_OF, SETTINGS)
        metrics = evaluate(orders, EMPTY_SESSIONS, AS_OF, SETTINGS)
        importance = feature_importance(orders, EMPTY_SESSIONS, AS_OF, SETTINGS)
    assert scores.empty and list(scores.columns) == list(SCORES_SCHEMA)
    assert importance.empty and list(importance.columns) == list(IMPORTANCE_SCHEMA)
    assert list(metrics.columns) == list(METRICS_SCHEMA)
    assert set(metrics["metric"]) == {"training_size", "positive_rate"}
    assert "not trained" in caplog.text


def test_stratified_sample_bounds_size_and_keeps_class_shares() -> None:
    labels = pd.Series([1] * 700 + [0] * 300, index=[f"cus_{i:04d}" for i in range(1000)])
    keep = stratified_sample(labels, 100, seed=7)
    assert len(keep) == 100
    assert labels.loc[keep].sum() == 70
    assert keep.is_unique and keep.isin(labels.index).all()
    assert keep.equals(stratified_sample(labels, 100, seed=7))  # seeded: reproducible
    assert not keep.equals(stratified_sample(labels, 100, seed=8))
    assert stratified_sample(labels, 1000, seed=7).equals(labels.index)


def test_training_set_is_capped(history: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    orders, sessions = history
    full = training_set(orders, sessions, AS_OF, SETTINGS)
    cap = len(full.labels) // 2
    capped = training_set(
        orders,
        sessions,
        AS_OF,
        ChurnSettings(**{**SETTINGS.__dict__, "max_training_customers": cap}),
    )
    assert len(capped.labels) == pytest.approx(cap, abs=2)
    assert capped.features.index.equals(capped.labels.index)
    assert abs(capped.labels.mean() - full.labels.mean()) < 0.01


def test_outer_cross_validation_uses_its_own_fold_count(history) -> None:
    orders, sessions = history
    two = ChurnSettings(**{**SETTINGS.__dict__, "outer_cv_folds": 2})
    metrics = evaluate(orders, sessions, AS_OF, two).set_index("metric")["value"]
    assert metrics["cv_folds"] == 2
    assert metrics["roc_auc"] > 0.7
    # the outer folds change the metrics, not the published scores (only their model_version,
    # which covers every setting)
    pd.testing.assert_frame_equal(
        score_customers(orders, sessions, AS_OF, two).drop(columns="model_version"),
        score_customers(orders, sessions, AS_OF, SETTINGS).drop(columns="model_version"),
    )
