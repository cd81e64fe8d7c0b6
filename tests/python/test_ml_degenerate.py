"""Degenerate inputs to every ML step: each produces its output or an empty output with its
usual columns, plus a reason; none raises (issue #21: an ML step never takes marts down)."""

from __future__ import annotations

import logging
import threading
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from segwarehouse.ml.churn import (
    FEATURES,
    IMPORTANCE_SCHEMA,
    METRICS_SCHEMA,
    MODEL_SCHEMA,
    SCORES_SCHEMA,
    ChurnSettings,
    ChurnTrainingSet,
    evaluate_training_set,
    fit_plan,
    importance_of_training_set,
    model_row,
    score_customers,
    score_training_set,
    score_with_model,
    training_cutoff,
)
from segwarehouse.ml.clustering import (
    CLUSTERS_SCHEMA,
    DIAGNOSTICS_SCHEMA,
    PROFILES_SCHEMA,
    ClusterSettings,
    cluster_profiles,
    clusters_table,
    diagnostics_table,
)
from segwarehouse.ml.clustering import FEATURES as CLUSTER_FEATURES
from segwarehouse.ml.clv import CLV_SCHEMA, PARAMS_SCHEMA, fit_clv_parameters, predict_clv
from segwarehouse.ml.frames import typed_relation
from segwarehouse.ml.lookalike import LOOKALIKE_SCHEMA, lookalike_scores
from segwarehouse.ml.run_log import RUN_LOG_TABLE, recorded_run

AS_OF = date(2026, 6, 30)
SETTINGS = ChurnSettings(
    horizon_days=90, cv_folds=5, seed=1, min_training_customers=50, retrain_every_days=1
)
CUTOFF = training_cutoff(AS_OF, SETTINGS)
NO_SESSIONS = pd.DataFrame(columns=["customer_key", "session_started_at"])


def orders_frame(rows: list[tuple[str, date, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(key, day, "completed", total) for key, day, total in rows],
        columns=["customer_key", "order_date", "status", "order_total_reporting"],
    )


def history(
    buyers: int,
    returning: int,
    orders_before: int = 3,
    same_amount: bool = False,
) -> pd.DataFrame:
    """`buyers` customers with `orders_before` completed orders before the training cutoff;
    the first `returning` of them buy again in the label horizon (not churned)."""
    rng = np.random.default_rng(buyers * 31 + returning)
    rows = []
    for i in range(buyers):
        key = f"cus_{i:04d}"
        for k in range(orders_before):
            day = CUTOFF - timedelta(days=int(rng.integers(1, 500)) + k)
            rows.append((key, day, 50.0 if same_amount else float(rng.gamma(2, 30))))
        if i < returning:
            rows.append((key, CUTOFF + timedelta(days=int(rng.integers(1, 90))), 40.0))
    return orders_frame(rows)


def training(features: pd.DataFrame, labels: list[int]) -> ChurnTrainingSet:
    index = pd.Index([f"cus_{i:04d}" for i in range(len(labels))], name="customer_key")
    return ChurnTrainingSet(
        CUTOFF, features.set_axis(index), pd.Series(labels, index=index, name="churned")
    )


def random_features(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.gamma(2.0, 10.0, size=(n, len(FEATURES))), columns=list(FEATURES))


# --- churn -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buyers", "returning", "why"),
    [
        (1, 0, "a single class"),
        (2, 1, "fewer than 50 customers"),
        (120, 0, "a single class"),  # everyone churned
        (120, 120, "a single class"),  # nobody churned
        (120, 1, "a class of one customer"),
    ],
    ids=["1 buyer", "2 buyers", "everyone churned", "nobody churned", "1 positive"],
)
def test_untrainable_histories_give_empty_typed_scores_and_a_reason(
    buyers: int, returning: int, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    orders = history(buyers, returning)
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        scores = score_customers(orders, NO_SESSIONS, AS_OF, SETTINGS)
    assert scores.empty and list(scores.columns) == list(SCORES_SCHEMA)
    assert why in caplog.text and "not trained" in caplog.text


def test_no_web_sessions_and_one_time_buyers_at_the_cutoff_still_train(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No sessions (days_since_last_visit missing for everyone) and one order each before the
    cutoff (mean_gap_days missing for everyone): the booster's binning used to raise "window
    shape cannot be larger than input array shape" on those all-NaN columns."""
    orders = history(200, 80, orders_before=1)
    train_features = orders.loc[orders["order_date"] <= CUTOFF]
    assert train_features.groupby("customer_key").size().max() == 1
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        scores = score_customers(orders, NO_SESSIONS, AS_OF, SETTINGS)
    assert len(scores) == 200
    assert scores["churn_probability"].between(0, 1).all()
    assert "not trained" not in caplog.text


def test_every_order_the_same_amount_trains(caplog: pytest.LogCaptureFixture) -> None:
    orders = history(150, 60, same_amount=True)
    scores = score_customers(orders, NO_SESSIONS, AS_OF, SETTINGS)
    assert len(scores) == 150 and scores["churn_probability"].notna().all()


@pytest.mark.parametrize("positives", [2, 3])
def test_few_positives_shrink_the_folds_and_say_so(positives: int) -> None:
    """3 (or 2) churners among 200: calibrated on as many folds as there are churners; the
    outer CV and the permutation importance still run (fewer folds, larger held-out share)."""
    train = training(random_features(200), [1] * positives + [0] * (200 - positives))
    plan = fit_plan(train.labels, SETTINGS)
    assert (plan.folds, plan.status) == (positives, "degraded")
    assert f"calibrated on {positives} folds instead of 5" in plan.note

    row = model_row(train, SETTINGS)
    assert list(row.columns) == list(MODEL_SCHEMA)
    assert row["model_bytes"].notna().all() and row["fit_status"].tolist() == ["degraded"]
    scores = score_training_set(train, train.features, AS_OF, SETTINGS)
    assert len(scores) == 200 and scores["churn_probability"].between(0, 1).all()
    metrics = evaluate_training_set(train, AS_OF, SETTINGS).set_index("metric")["value"]
    assert metrics["cv_folds"] == min(positives, SETTINGS.outer_cv_folds)
    assert 0 <= metrics["roc_auc"] <= 1
    importance = importance_of_training_set(train, AS_OF, SETTINGS)
    assert list(importance.columns) == list(IMPORTANCE_SCHEMA) and len(importance) == len(FEATURES)


def test_all_null_and_all_zero_feature_columns_train() -> None:
    """Web and campaign-like features absent for everyone (all NaN / all 0), even inside
    cross-validation folds: a full fit, evaluation and importance."""
    features = random_features(300, seed=4)
    features[["sessions_30d", "sessions_90d"]] = 0.0
    features[["days_since_last_visit", "mean_gap_days", "recency_over_mean_gap"]] = np.nan
    labels = (features["recency_days"] > features["recency_days"].median()).astype(int).tolist()
    train = training(features, labels)
    assert fit_plan(train.labels, SETTINGS).status == "ok"
    row = model_row(train, SETTINGS)
    assert row["fit_note"].isna().all()
    scores = score_with_model(
        bytes(row["model_bytes"].iloc[0]), "v", train.features, AS_OF, SETTINGS
    )
    assert len(scores) == 300
    metrics = evaluate_training_set(train, AS_OF, SETTINGS).set_index("metric")["value"]
    assert metrics["roc_auc"] > 0.8  # the signal in recency_days is still learnt
    assert len(importance_of_training_set(train, AS_OF, SETTINGS)) == len(FEATURES)


def test_a_skipped_fit_keeps_typed_outputs() -> None:
    train = training(random_features(1), [1])
    row = model_row(train, SETTINGS)
    assert row["model_bytes"].isna().all() and row["fit_status"].tolist() == ["skipped"]
    assert "1 churned, 0 not churned" in row["fit_note"].iloc[0]
    assert list(evaluate_training_set(train, AS_OF, SETTINGS).columns) == list(METRICS_SCHEMA)
    assert importance_of_training_set(train, AS_OF, SETTINGS).empty


# --- CLV ---------------------------------------------------------------------------------


def rfm(frequency: list[int], monetary: list[float]) -> pd.DataFrame:
    x = np.asarray(frequency)
    return pd.DataFrame(
        {
            "customer_key": [f"c{i:03d}" for i in range(len(x))],
            "frequency": x,
            "recency_clv_days": np.where(x > 0, 100 + np.arange(len(x)) % 50, 0),
            "age_clv_days": 300 + np.arange(len(x)) % 70,
            "monetary_clv": monetary,
        }
    )


@pytest.mark.parametrize(
    ("frequency", "monetary"),
    [([2], [50.0]), ([1, 3], [20.0, 30.0]), ([0] * 40, [0.0] * 40)],
    ids=["1 buyer", "2 buyers", "one-time buyers only"],
)
def test_clv_without_enough_buyers_or_repeats_is_empty_and_typed(
    frequency: list[int], monetary: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        params = fit_clv_parameters(rfm(frequency, monetary), "2026-06-30")
        clv = predict_clv(rfm(frequency, monetary), params, "2026-06-30")
    assert params.empty and list(params.columns) == list(PARAMS_SCHEMA)
    assert clv.empty and list(clv.columns) == list(CLV_SCHEMA)
    assert "BG/NBD not fitted" in caplog.text and "customer_clv empty" in caplog.text


def test_clv_with_identical_buyers_warns_and_stays_finite(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every buyer with the same history and every order the same amount: the likelihoods
    have no interior optimum; the fit is kept, finite, and flagged."""
    same = pd.DataFrame(
        {
            "customer_key": [f"c{i:03d}" for i in range(30)],
            "frequency": 2,
            "recency_clv_days": 100,
            "age_clv_days": 300,
            "monetary_clv": 50.0,
        }
    )
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        params = fit_clv_parameters(same, "2026-06-30")
        clv = predict_clv(same, params, "2026-06-30")
    assert len(clv) == 30 and np.isfinite(clv["clv"].astype(float)).all()
    assert "ran to the edge of the search" in caplog.text


# --- clustering and lookalikes -----------------------------------------------------------


def cluster_features(n: int, constant: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    values = np.ones((n, len(CLUSTER_FEATURES))) if constant else rng.gamma(2, 5, (n, 10))
    frame = pd.DataFrame(
        values,
        columns=list(CLUSTER_FEATURES),
        index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_key"),
    )
    if not constant:  # no web or email engagement at all
        frame[["sessions_30d", "mobile_session_share"]] = 0.0
        frame["email_open_rate"] = np.nan
    return frame


@pytest.mark.parametrize(("n", "constant"), [(1, False), (2, False), (19, False), (40, True)])
def test_clusters_on_too_few_or_identical_buyers_are_empty_and_typed(
    n: int, constant: bool, caplog: pytest.LogCaptureFixture
) -> None:
    features = cluster_features(n, constant)
    settings = ClusterSettings()
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        diagnostics = diagnostics_table(features, "2026-06-30", settings)
        clusters = clusters_table(features, diagnostics, None, "2026-06-30", settings)
        profiles = cluster_profiles(clusters, features, "2026-06-30")
    assert diagnostics.empty and list(diagnostics.columns) == list(DIAGNOSTICS_SCHEMA)
    assert clusters.empty and list(clusters.columns) == list(CLUSTERS_SCHEMA)
    assert profiles.empty and list(profiles.columns) == list(PROFILES_SCHEMA)
    assert "clusters not computed" in caplog.text


def test_k_range_larger_than_the_buyers_is_cut_to_them() -> None:
    """20 buyers (the minimum) and k up to 30: k stops below the number of buyers."""
    features = cluster_features(20)
    settings = ClusterSettings(k_min=2, k_max=30)
    diagnostics = diagnostics_table(features, "2026-06-30", settings)
    assert diagnostics["k"].max() == 19 and diagnostics["is_chosen"].sum() == 1
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", settings)
    assert len(clusters) == 20


def test_lookalikes_with_an_absent_seed_segment_are_empty_and_typed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="segwarehouse"):
        scores = lookalike_scores(cluster_features(50), set(), "rfm_champions", 10, "2026-06-30")
    assert scores.empty and list(scores.columns) == list(LOOKALIKE_SCHEMA)
    assert "0 seed members" in caplog.text


# --- the run log -------------------------------------------------------------------------

SCHEMA = {"customer_key": "varchar", "score": "double", "as_of_date": "date"}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        "create table run_context as select 'inv-1' as invocation_id, "
        "date '2026-06-30' as as_of_date"
    )
    return connection


def logged(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        f"select model_name, status, reason, output_rows, as_of_date from {RUN_LOG_TABLE} "
        "order by model_name"
    ).fetchall()


def test_run_log_statuses(con: duckdb.DuckDBPyConnection) -> None:
    context = con.table("run_context")
    good = pd.DataFrame({"customer_key": ["a"], "score": [0.5], "as_of_date": ["2026-06-30"]})
    warn = logging.getLogger("segwarehouse.ml.test").warning

    def degraded() -> pd.DataFrame:
        warn("fitted on 2 folds")
        return good

    def skipped() -> pd.DataFrame:
        warn("nothing to learn")
        return good.iloc[:0]

    def broken() -> pd.DataFrame:
        raise ValueError("window shape cannot be larger than input array shape")

    for name, compute in (("a_ok", lambda: good), ("b_degraded", degraded)):
        assert recorded_run(con, name, context, SCHEMA, compute).fetchall() == [
            ("a", 0.5, date(2026, 6, 30))
        ]
    assert recorded_run(con, "c_skipped", context, SCHEMA, skipped).fetchall() == []
    failed = recorded_run(con, "d_failed", context, SCHEMA, broken)
    assert failed.fetchall() == [] and failed.types == typed_relation(con, good, SCHEMA).types
    assert recorded_run(con, "e_silent", context, SCHEMA, lambda: good.iloc[:0]).fetchall() == []
    day = date(2026, 6, 30)
    assert logged(con) == [
        ("a_ok", "ok", None, 1, day),
        ("b_degraded", "degraded", "fitted on 2 folds", 1, day),
        ("c_skipped", "skipped", "nothing to learn", 0, day),
        (
            "d_failed",
            "failed",
            "ValueError: window shape cannot be larger than input array shape",
            0,
            day,
        ),
        ("e_silent", "skipped", "no output rows (nothing was logged about why)", 0, day),
    ]


def test_a_required_model_logs_its_failure_then_raises(con: duckdb.DuckDBPyConnection) -> None:
    def broken() -> pd.DataFrame:
        raise RuntimeError("splink exploded")

    # {}: int_identity_components' output is a relation typed by its own SQL
    with pytest.raises(RuntimeError, match="splink exploded"):
        recorded_run(con, "identity", con.table("run_context"), {}, broken, optional=False)
    assert logged(con)[0][:3] == ("identity", "failed", "RuntimeError: splink exploded")


def test_note_and_produced_decide_a_one_row_output(con: duckdb.DuckDBPyConnection) -> None:
    row = pd.DataFrame({"customer_key": ["m"], "score": [None], "as_of_date": ["2026-06-30"]})
    recorded_run(
        con,
        "model_row",
        con.table("run_context"),
        SCHEMA,
        lambda: row,
        produced=lambda frame: bool(frame["score"].notna().any()),
        note=lambda frame: "no model in the row",
    )
    assert logged(con) == [("model_row", "skipped", "no model in the row", 1, date(2026, 6, 30))]


def test_warnings_of_another_thread_are_not_this_runs_reason(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """dbt runs two Python models at once: a warning logged by the other one (another thread)
    while this one computes is not this one's reason."""
    good = pd.DataFrame({"customer_key": ["a"], "score": [0.5], "as_of_date": ["2026-06-30"]})
    other = logging.getLogger("segwarehouse.ml.clv")

    def compute() -> pd.DataFrame:
        thread = threading.Thread(target=other.warning, args=("Gamma-Gamma not fitted",))
        thread.start()
        thread.join()
        return good

    recorded_run(con, "customer_clusters", con.table("run_context"), SCHEMA, compute)
    assert logged(con) == [("customer_clusters", "ok", None, 1, date(2026, 6, 30))]
