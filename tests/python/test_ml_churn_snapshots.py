"""int_churn_feature_snapshots (the churn models' shared SQL input) against the reference
implementation segwarehouse.ml.churn.point_in_time_features / churn_labels, on the session's
`built` warehouse: same buyers, same features, same labels, at both snapshots; and the training
snapshot equals features computed from inputs cut at the cutoff (no leakage)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from conftest import END_DATE, Workspace, customer_keys, frame
from segwarehouse.ml.churn import (
    FEATURES,
    ORDER_COLUMNS,
    SESSION_COLUMNS,
    ChurnSettings,
    churn_labels,
    frames_from_snapshots,
    point_in_time_features,
    training_cutoff,
    training_set,
)

HORIZON_DAYS = 90  # var ml__churn_horizon_days, default


@pytest.fixture(scope="module")
def inputs(built: Workspace) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # the intermediates carry customer_sk; the reference reads customer_key
    orders = frame(built, "select * from intermediate.int_customer_orders")
    orders = orders.assign(customer_key=customer_keys(orders["customer_sk"]))
    sessions = frame(built, "select * from intermediate.int_customer_web_sessions")
    sessions = sessions.assign(customer_key=customer_keys(sessions["customer_sk"]))
    orders = orders[ORDER_COLUMNS.split(", ")]
    sessions = sessions[SESSION_COLUMNS.split(", ")]
    snapshots = frame(built, "select * from intermediate.int_churn_feature_snapshots")
    return orders, sessions, snapshots


def assert_same_features(sql: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(reference) > 1_000
    assert list(sql.index) == list(reference.index)
    for column in FEATURES:
        np.testing.assert_allclose(
            sql[column].to_numpy(dtype=float),
            reference[column].to_numpy(dtype=float),
            rtol=1e-9,
            equal_nan=True,
            err_msg=column,
        )


def test_both_snapshots_equal_the_reference(inputs) -> None:
    orders, sessions, snapshots = inputs
    settings = ChurnSettings(horizon_days=HORIZON_DAYS, max_training_customers=10**9)
    train, current = frames_from_snapshots(snapshots, END_DATE, settings)
    cutoff = training_cutoff(END_DATE, settings)
    # END_DATE is a Tuesday: training is as of that week's Monday (var
    # ml__retrain_every_days 7) minus the horizon, as macro retrain_anchor_date renders it.
    assert cutoff == END_DATE - timedelta(days=1 + HORIZON_DAYS)

    assert_same_features(current, point_in_time_features(orders, sessions, END_DATE))
    reference = point_in_time_features(orders, sessions, cutoff)
    assert_same_features(train.features, reference)
    labels = churn_labels(orders, reference.index, cutoff, HORIZON_DAYS)
    assert train.labels.equals(labels.astype(int))
    assert 0 < train.labels.mean() < 1
    assert set(snapshots["snapshot_date"].astype(str)) == {str(END_DATE), str(cutoff)}


def test_training_snapshot_reads_nothing_after_the_cutoff(inputs) -> None:
    orders, sessions, snapshots = inputs
    settings = ChurnSettings(horizon_days=HORIZON_DAYS, max_training_customers=10**9)
    cutoff: date = training_cutoff(END_DATE, settings)
    next_midnight = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    known_orders = orders.loc[pd.to_datetime(orders["order_date"]) <= pd.Timestamp(cutoff)]
    known_sessions = sessions.loc[pd.to_datetime(sessions["session_started_at"]) < next_midnight]
    # There is later data to leak: orders and sessions after the cutoff exist.
    assert len(known_orders) < len(orders) and len(known_sessions) < len(sessions)
    train, _ = frames_from_snapshots(snapshots, END_DATE, settings)
    assert_same_features(
        train.features, point_in_time_features(known_orders, known_sessions, cutoff)
    )


def test_the_training_set_is_capped_like_the_reference(inputs) -> None:
    orders, sessions, snapshots = inputs
    settings = ChurnSettings(horizon_days=HORIZON_DAYS, max_training_customers=500)
    train, current = frames_from_snapshots(snapshots, END_DATE, settings)
    assert len(train.labels) <= 501 and len(current) > len(train.labels)
    reference = training_set(orders, sessions, END_DATE, settings)
    assert list(train.labels.index) == list(reference.labels.index)
