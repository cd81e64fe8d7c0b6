"""Churn propensity: will a buyer place no completed order in the next N days?

Point in time, no leakage: training features are computed from orders and web sessions dated
on or before a cutoff N days before the retrain anchor (as_of_date floored to a
retrain_every_days period, segwarehouse.ml.model_cache), and the label is whether the customer
placed no completed order in the N days after the cutoff (all of which are on or before the
anchor). Scoring uses the same features at as_of_date. In the build both snapshots come from
the SQL model int_churn_feature_snapshots, computed once for the churn models;
point_in_time_features and churn_labels here are the reference it is tested against.

The model is a HistGradientBoostingClassifier calibrated with CalibratedClassifierCV
(isotonic, fitted on out-of-fold predictions of stratified folds; one booster fitted on all
rows predicts). Small or lopsided training sets degrade instead of failing (fit_plan): the
folds shrink to what the minority class allows (each fold needs one of each class), and with
no second class, too few customers or a single customer of a class nothing is fitted; the
reason is kept in int_churn_model.fit_note and reaches audit.model_runs. Features that are
missing for every training row (no web sessions, only one-time buyers) are set to 0 before
the booster bins them: scikit-learn's binning raises on an all-NaN column, and such a column
holds no information to learn from anyway.

It is evaluated by an outer stratified cross-validation of the whole calibrated model (AUC,
precision and recall at the decision threshold, Brier score, expected calibration error) and
explained by permutation importance on a held-out quarter. The fit is stored by
int_churn_model (model_row) and kept for its retrain period (refit_key), with the settings it
was fitted with (fit_settings); scores, metrics and importances read those settings from it
(settings_of_the_fit) and name the model_version they come from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from segwarehouse.ml.model_cache import (
    dump_model,
    load_model,
    model_version,
    previous_rows,
    retrain_anchor,
)
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date

logger = logging.getLogger("segwarehouse.ml.churn")

MODEL_NAME = "churn_hgb"
# Part of every model_version: bump it when _classifier or the way the model is fitted changes
# (the training rows, the settings and the library versions are hashed already).
# 2: all-NaN columns filled before binning, folds shrunk to the minority class.
MODEL_REVISION = 2

FEATURES = (
    "recency_days",
    "tenure_days",
    "purchase_days",
    "order_count",
    "net_revenue",
    "avg_order_value",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "revenue_90d",
    "mean_gap_days",
    "recency_over_mean_gap",
    "return_rate",
    "cancel_rate",
    "sessions_30d",
    "sessions_90d",
    "days_since_last_visit",
)

SCORES_SCHEMA = {
    "customer_key": "varchar",
    "churn_risk_band": "varchar",
    "churn_probability": "double",
    "churn_horizon_days": "integer",
    "model_version": "varchar",
    "as_of_date": "date",
}

METRICS_SCHEMA = {
    "model_name": "varchar",
    "metric": "varchar",
    "value": "double",
    "training_cutoff_date": "date",
    "model_version": "varchar",
    "as_of_date": "date",
}

IMPORTANCE_SCHEMA = {
    "model_name": "varchar",
    "feature": "varchar",
    "importance_rank": "integer",
    "importance_mean": "double",
    "importance_std": "double",
    "model_version": "varchar",
    "as_of_date": "date",
}

# int_churn_model: the fitted model of one training set (model_bytes null when the training
# set cannot be learnt from).
MODEL_SCHEMA = {
    "model_name": "varchar",
    "model_version": "varchar",
    "refit_key": "varchar",
    "training_cutoff_date": "date",
    "training_size": "integer",
    "positive_rate": "double",
    "model_bytes": "blob",
    "trained_at": "timestamp",
    "fit_status": "varchar",
    "fit_note": "varchar",
    "fit_settings": "varchar",
}

# fit_status of int_churn_model (and audit.model_runs' status of the churn models).
FIT_OK = "ok"
FIT_DEGRADED = "degraded"
FIT_SKIPPED = "skipped"


@dataclass(frozen=True)
class ChurnSettings:
    """vars ml__churn_*: label horizon, risk bands, decision threshold, folds, seed."""

    horizon_days: int = 90
    medium_risk_from: float = 0.5
    high_risk_from: float = 0.8
    decision_threshold: float = 0.5
    cv_folds: int = 5
    seed: int = 42
    min_training_customers: int = 100
    # Larger training sets are cut to a stratified, seeded sample of this size: past a few
    # hundred thousand rows more data barely moves AUC but multiplies the ~23 fits (scores,
    # outer CV, importance) that a build runs. Scoring always covers every buyer.
    max_training_customers: int = 200_000
    # Folds of model_metrics' outer cross-validation (each fold fits a 3-fold calibrated
    # model): 3 instead of cv_folds' 5 cuts the evaluation from 15 boosting fits to 9.
    outer_cv_folds: int = 3
    # The training set is built as of the retrain anchor (segwarehouse.ml.model_cache): with 7,
    # every day of a week trains on the same rows and the daily refresh reuses the week's fit.
    retrain_every_days: int = 7


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def training_cutoff(as_of_date: date | str, settings: ChurnSettings) -> date:
    """The point in time training features are computed at: the retrain anchor of as_of_date
    minus the horizon (labels come from the horizon that ends on the anchor)."""
    anchor = retrain_anchor(as_of_date, settings.retrain_every_days)
    return anchor - timedelta(days=settings.horizon_days)


def _days_before(moments: pd.Series, reference: pd.Timestamp) -> np.ndarray:
    """Whole days from each moment to `reference` (floored), as integers."""
    elapsed = reference.to_datetime64() - pd.to_datetime(moments).to_numpy(dtype="datetime64[us]")
    return elapsed // np.timedelta64(1, "D")


def _count_below(codes: np.ndarray, days: np.ndarray, limit: int, size: int) -> np.ndarray:
    """Per customer code: how many of its rows are fewer than `limit` days old."""
    return np.bincount(codes[days < limit], minlength=size).astype(float)


def point_in_time_features(
    orders: pd.DataFrame, sessions: pd.DataFrame, cutoff: date | str
) -> pd.DataFrame:
    """Features as of the end of `cutoff`, one row per customer with a completed order by then.

    orders: customer_key, order_date, status, order_total_reporting (int_customer_orders,
    whose customer_sk turns back into customer_key with macro customer_key_from_sk);
    sessions: customer_key, session_started_at (int_customer_web_sessions). Rows dated after
    the cutoff are dropped first, so nothing later can influence the result.

    Customer keys are turned into integer codes once and every aggregate is a bincount or an
    integer-keyed group-by: aligning a dozen string-indexed Series took ~20 s at 1M customers.
    """
    cutoff = _as_date(cutoff)
    day = pd.Timestamp(cutoff)
    order_days = _days_before(orders["order_date"], day)
    visible = orders.loc[(order_days >= 0) & orders["customer_key"].notna().to_numpy()]
    order_days = order_days[(order_days >= 0) & orders["customer_key"].notna().to_numpy()]
    codes, keys = pd.factorize(visible["customer_key"])
    size = len(keys)
    status = visible["status"].to_numpy()
    completed = status == "completed"
    if not completed.any():
        return pd.DataFrame(columns=list(FEATURES), index=pd.Index([], name="customer_key"))
    c_codes = codes[completed]
    c_days = order_days[completed]
    by_customer = pd.DataFrame(
        {
            "code": c_codes,
            "days": c_days,
            "total": visible["order_total_reporting"].to_numpy(dtype=float)[completed],
        }
    ).groupby("code", sort=True)
    order_count = np.bincount(c_codes, minlength=size).astype(float)
    buyers = np.flatnonzero(order_count > 0)  # codes with a completed order, ascending
    features = pd.DataFrame(
        {
            "recency_days": by_customer["days"].min().to_numpy(dtype=float),
            "tenure_days": by_customer["days"].max().to_numpy(dtype=float),
            "purchase_days": by_customer["days"].nunique().to_numpy(dtype=float),
            "order_count": order_count[buyers],
            "net_revenue": by_customer["total"].sum().to_numpy(dtype=float),
        }
    )
    for days in (30, 90, 365):
        features[f"orders_{days}d"] = _count_below(c_codes, c_days, days, size)[buyers]
    in_90d = c_days < 90
    features["revenue_90d"] = np.bincount(
        c_codes[in_90d],
        weights=np.nan_to_num(by_customer.obj["total"].to_numpy()[in_90d]),
        minlength=size,
    )[buyers]
    features["avg_order_value"] = features["net_revenue"] / features["order_count"]
    span = features["tenure_days"] - features["recency_days"]
    gaps = features["purchase_days"] - 1
    features["mean_gap_days"] = (span / gaps).where(gaps > 0)
    features["recency_over_mean_gap"] = features["recency_days"] / features["mean_gap_days"]
    all_orders = np.bincount(codes, minlength=size)[buyers]
    for name, flag in (("return_rate", "returned"), ("cancel_rate", "cancelled")):
        flagged = np.bincount(codes[status == flag], minlength=size)[buyers]
        features[name] = flagged / all_orders

    if sessions is not None and not sessions.empty:
        # Sessions that started before the midnight after the cutoff (strictly: one starting
        # at that midnight belongs to the next day), in whole days before that midnight.
        next_midnight = (day + pd.Timedelta(days=1)).to_datetime64()
        started = pd.to_datetime(sessions["session_started_at"]).to_numpy(dtype="datetime64[us]")
        session_days = (next_midnight - started) // np.timedelta64(1, "D")
        session_codes = pd.Index(keys).get_indexer(sessions["customer_key"])
        seen = (started < next_midnight) & (session_codes >= 0)
        session_codes, session_days = session_codes[seen], session_days[seen]
        features["sessions_30d"] = _count_below(session_codes, session_days, 30, size)[buyers]
        features["sessions_90d"] = _count_below(session_codes, session_days, 90, size)[buyers]
        last_visit = np.full(size, np.inf)
        np.minimum.at(last_visit, session_codes, session_days)
        features["days_since_last_visit"] = np.where(np.isfinite(last_visit), last_visit, np.nan)[
            buyers
        ]
    else:
        features["sessions_30d"] = 0.0
        features["sessions_90d"] = 0.0
        features["days_since_last_visit"] = np.nan
    features.index = pd.Index(np.asarray(keys, dtype=object)[buyers], name="customer_key")
    return features[list(FEATURES)].astype(float).sort_index()


def churn_labels(
    orders: pd.DataFrame, customers: pd.Index, cutoff: date | str, horizon_days: int
) -> pd.Series:
    """1 = no completed order in the `horizon_days` days after `cutoff`, for `customers`."""
    cutoff = _as_date(cutoff)
    start = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=horizon_days)
    order_dates = pd.to_datetime(orders["order_date"])
    came_back = orders.loc[
        (orders["status"] == "completed") & (order_dates >= start) & (order_dates < end),
        "customer_key",
    ].unique()
    return pd.Series((~customers.isin(came_back)).astype(int), index=customers, name="churned")


class AllMissingFilled(TransformerMixin, BaseEstimator):
    """Sets the columns that were missing in every training row to 0 (the others untouched).

    HistGradientBoosting keeps NaN as "unknown" and splits on it, but its binning raises
    ("window shape cannot be larger than input array shape") on a column with no value at all,
    which a cross-validation fold can produce even when the whole training set has a few
    values. A column constant in training is never split on, so the 0 changes no prediction.
    """

    def fit(self, x: np.ndarray, y: object = None) -> AllMissingFilled:
        self.all_missing_ = np.isnan(np.asarray(x, dtype=float)).all(axis=0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        filled = np.array(x, dtype=float, copy=True)
        filled[:, self.all_missing_] = 0.0
        return filled


def _booster(settings: ChurnSettings) -> Pipeline:
    return make_pipeline(
        AllMissingFilled(),
        HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.06,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            random_state=settings.seed,
        ),
    )


def _classifier(settings: ChurnSettings, folds: int) -> CalibratedClassifierCV | Pipeline:
    """The calibrated booster with `folds` stratified folds; the plain booster (probabilities
    uncalibrated) when folds < 2, i.e. a class has a single member in the rows fitted."""
    if folds < 2:
        return _booster(settings)
    # ensemble=False: the isotonic map is fitted on out-of-fold predictions of `folds` boosters
    # and one booster fitted on all rows predicts. Scoring 1M buyers and the permutation
    # importance's 85 scorings then run one booster instead of `folds` (at 1M: predicting took
    # 24 s with five), for one more fit.
    return CalibratedClassifierCV(
        _booster(settings),
        method="isotonic",
        cv=StratifiedKFold(folds, shuffle=True, random_state=settings.seed),
        ensemble=False,
    )


def _fitted(
    x: np.ndarray, y: np.ndarray, settings: ChurnSettings, folds: int
) -> CalibratedClassifierCV | Pipeline:
    """The classifier fitted on x, y with at most `folds` calibration folds: as many as the
    smaller class of y allows (each fold needs a member of each class)."""
    return _classifier(settings, min(folds, _minority(y))).fit(x, y)


def _minority(labels: np.ndarray | pd.Series) -> int:
    """Members of the smaller class (0 when there are fewer than two classes)."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    return int(counts.min()) if len(counts) == 2 else 0


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    """Share-weighted mean |observed rate - mean probability| over equal-width bins."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(labels[mask].mean() - probabilities[mask].mean())
    return float(error)


@dataclass(frozen=True)
class FitPlan:
    """Whether and how a training set is fitted: calibration folds (0 = nothing is fitted),
    fit_status and the note that says why it is not the full fit."""

    folds: int
    status: str
    note: str | None


def _label_counts(labels: pd.Series) -> str:
    counts = labels.value_counts().to_dict()
    return f"{counts.get(1, 0)} churned, {counts.get(0, 0)} not churned"


def fit_plan(labels: pd.Series, settings: ChurnSettings) -> FitPlan:
    """How the training set with these labels is fitted (never raises).

    Skipped (no model) with no second class, fewer than min_training_customers, or a class
    of one customer (nothing to stratify, calibrate or validate on); degraded with fewer
    calibration folds than cv_folds when the smaller class has fewer members than cv_folds.
    """
    n, minority = len(labels), _minority(labels)
    if n < settings.min_training_customers or minority < 2:
        why = (
            "a single class"
            if minority == 0
            else f"fewer than {settings.min_training_customers} customers"
            if n < settings.min_training_customers
            else "a class of one customer"
        )
        return FitPlan(
            0,
            FIT_SKIPPED,
            f"not trained: {n} training customers ({_label_counts(labels)}), {why}; "
            "customer_churn_scores is empty",
        )
    if minority < settings.cv_folds:
        return FitPlan(
            minority,
            FIT_DEGRADED,
            f"calibrated on {minority} folds instead of {settings.cv_folds}: the smaller class "
            f"has {minority} customers ({_label_counts(labels)})",
        )
    return FitPlan(settings.cv_folds, FIT_OK, None)


def _trainable(labels: pd.Series, settings: ChurnSettings) -> bool:
    return fit_plan(labels, settings).folds >= 2


@dataclass
class ChurnTrainingSet:
    """Point-in-time features at the cutoff and the labels observed after it."""

    cutoff: date
    features: pd.DataFrame
    labels: pd.Series


def training_set(
    orders: pd.DataFrame, sessions: pd.DataFrame, as_of_date: date | str, settings: ChurnSettings
) -> ChurnTrainingSet:
    """Features at the training cutoff (retrain anchor - horizon) and whether each customer then
    bought nothing."""
    cutoff = training_cutoff(as_of_date, settings)
    features = point_in_time_features(orders, sessions, cutoff)
    labels = churn_labels(orders, features.index, cutoff, settings.horizon_days)
    return _capped(cutoff, features, labels, settings)


def _capped(
    cutoff: date, features: pd.DataFrame, labels: pd.Series, settings: ChurnSettings
) -> ChurnTrainingSet:
    keep = stratified_sample(labels, settings.max_training_customers, settings.seed)
    return ChurnTrainingSet(cutoff, features.loc[keep], labels.loc[keep])


def frames_from_snapshots(
    snapshots: pd.DataFrame, as_of_date: date | str, settings: ChurnSettings
) -> tuple[ChurnTrainingSet, pd.DataFrame]:
    """The training set and the scoring features from int_churn_feature_snapshots' rows.

    `snapshots` has SNAPSHOT_COLUMNS (one row per snapshot and buyer). Both frames are indexed
    by customer_key in sorted order, like point_in_time_features, so the stratified sample and
    everything fitted on it are the same whichever path computed the features.
    """
    frame = snapshots.set_index("customer_key").sort_index()
    training = frame.loc[frame["snapshot_name"] == "training"]
    current = frame.loc[frame["snapshot_name"] == "scoring", list(FEATURES)].astype(float)
    labels = training["churned"].astype(int).rename("churned")
    features = training[list(FEATURES)].astype(float)
    return _capped(training_cutoff(as_of_date, settings), features, labels, settings), current


def training_from_relation(
    snapshots: Any, as_of_date: date | str, settings: ChurnSettings
) -> ChurnTrainingSet:
    """The (capped) training set from a DuckDB relation of int_churn_feature_snapshots; only
    its training rows are read."""
    rows = snapshots.filter("snapshot_name = 'training'").project(SNAPSHOT_COLUMNS).df()
    return frames_from_snapshots(rows, as_of_date, settings)[0]


def scoring_from_relation(snapshots: Any) -> pd.DataFrame:
    """FEATURES at as_of_date, indexed by customer_key in sorted order, from a DuckDB relation
    of int_churn_feature_snapshots; only its scoring rows are read."""
    rows = snapshots.filter("snapshot_name = 'scoring'").project(SNAPSHOT_COLUMNS).df()
    return scoring_frame(rows)


def scoring_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """FEATURES as floats indexed by customer_key in sorted order, from rows with customer_key
    and FEATURES (any other columns ignored): what a model scores, on DuckDB (all scoring rows
    at once) and on Spark (one Arrow batch at a time, segwarehouse.ml.spark_scoring)."""
    return rows.set_index("customer_key").sort_index()[list(FEATURES)].astype(float)


def stored_model(model: Any) -> tuple[bytes | None, str | None]:
    """(model_bytes, model_version) from a DuckDB relation of int_churn_model; (None, None)
    when it holds no row."""
    rows = model.project("model_bytes, model_version").fetchall()
    if not rows:
        return None, None
    model_bytes, version = rows[0]
    return (bytes(model_bytes) if model_bytes is not None else None), version


def report_missing_model(model: Any) -> None:
    """Warn, with its fit_note, when int_churn_model (relation `model`) holds no fitted model:
    the reason customer_churn_scores, model_metrics and model_feature_importance record."""
    rows = model.project("model_bytes is null, fit_note").fetchall()
    if not rows:
        logger.warning("no churn model: int_churn_model holds no row")
    elif rows[0][0]:
        logger.warning("no churn model: %s", rows[0][1] or "int_churn_model.model_bytes is null")


def settings_of_the_fit(model: Any) -> ChurnSettings | None:
    """The ChurnSettings int_churn_model (relation `model`) was fitted with (its fit_settings);
    None when it holds no row. Every setting is part of its refit_key, so after a change of
    var the model refits on the next build and this is the vars' settings again."""
    rows = model.project("fit_settings").fetchall()
    if not rows or rows[0][0] is None:
        return None
    return ChurnSettings(**json.loads(rows[0][0]))


def with_risk_bands(settings: ChurnSettings, config: Mapping[str, object]) -> ChurnSettings:
    """`settings` with customer_churn_scores' own risk bands (config churn_medium_risk_from,
    churn_high_risk_from): the bands label probabilities and are not part of the fitted
    model, so the scores follow the vars even against a model kept from another build."""
    return replace(
        settings,
        medium_risk_from=float(str(config["churn_medium_risk_from"])),
        high_risk_from=float(str(config["churn_high_risk_from"])),
    )


def scores_of_the_fit(
    model: Any, snapshots: Any, as_of_date: date | str, bands: Mapping[str, object]
) -> pd.DataFrame:
    """customer_churn_scores' rows (SCORES_SCHEMA): every buyer of the scoring snapshot of
    `snapshots` scored by int_churn_model (relation `model`) with the settings it was fitted
    with and the risk bands of `bands` (with_risk_bands); none when there is no model."""
    report_missing_model(model)
    settings = settings_of_the_fit(model)
    if settings is None:
        return pd.DataFrame(columns=list(SCORES_SCHEMA))
    model_bytes, version = stored_model(model)
    current = scoring_from_relation(snapshots)
    return score_with_model(
        model_bytes, version, current, as_of_date, with_risk_bands(settings, bands)
    )


def rows_of_the_fit(
    con: Any,
    this: object,
    snapshots: Any,
    model: Any,
    as_of_date: date | str,
    compute: Callable[[ChurnTrainingSet, date | str, ChurnSettings], pd.DataFrame],
    schema: Mapping[str, str],
) -> pd.DataFrame:
    """Rows computed from the training set alone (model_metrics, model_feature_importance):
    the previous build's rows of table `this` while int_churn_model's model_version (relation
    `model`) is theirs, else `compute` on the training set of `snapshots` with the settings the
    model was fitted with; as_of_date is today's either way. No rows when int_churn_model
    holds none (it failed: nothing to describe)."""
    report_missing_model(model)
    settings = settings_of_the_fit(model)
    if settings is None:
        return pd.DataFrame(columns=list(schema))
    versions = model.project("model_version").fetchall()
    version = versions[0][0] if versions else None
    rows = previous_rows(con, this, version, schema) if version else None
    if rows is None:
        rows = compute(
            training_from_relation(snapshots, as_of_date, settings), as_of_date, settings
        )
    rows["as_of_date"] = str(as_of_date)
    return rows


def _has_rows(frame: pd.DataFrame) -> bool:
    return len(frame) > 0


def recorded_rows_of_the_fit(
    con: Any,
    this: object,
    name: str,
    snapshots: Any,
    model: Any,
    context: Any,
    compute: Callable[[ChurnTrainingSet, date | str, ChurnSettings], pd.DataFrame],
    schema: Mapping[str, str],
    produced: Callable[[pd.DataFrame], bool] = _has_rows,
) -> Any:
    """The whole run of model `name` (model_metrics, model_feature_importance): rows_of_the_fit
    on the relations int_churn_feature_snapshots, int_churn_model and int_run_context, logged
    to audit.model_runs by recorded_run."""
    as_of_date = run_as_of_date(context)
    return recorded_run(
        con,
        name,
        context,
        schema,
        lambda: rows_of_the_fit(con, this, snapshots, model, as_of_date, compute, schema),
        produced=produced,
    )


def run_model_metrics(con: Any, this: object, snapshots: Any, model: Any, context: Any) -> Any:
    """model_metrics' run: evaluate_training_set by recorded_rows_of_the_fit; its result is
    real when it holds the cross-validated metrics."""
    return recorded_rows_of_the_fit(
        con,
        this,
        "model_metrics",
        snapshots,
        model,
        context,
        evaluate_training_set,
        METRICS_SCHEMA,
        produced=has_cv_metrics,
    )


def run_model_feature_importance(
    con: Any, this: object, snapshots: Any, model: Any, context: Any
) -> Any:
    """model_feature_importance's run: importance_of_training_set by recorded_rows_of_the_fit."""
    return recorded_rows_of_the_fit(
        con,
        this,
        "model_feature_importance",
        snapshots,
        model,
        context,
        importance_of_training_set,
        IMPORTANCE_SCHEMA,
    )


def stratified_sample(labels: pd.Series, size: int, seed: int) -> pd.Index:
    """At most `size` index values of `labels`, each class keeping its share; all of them,
    in their order, when there are no more than `size`."""
    if len(labels) <= size:
        return labels.index
    share = size / len(labels)
    picked = labels.groupby(labels, group_keys=False).sample(frac=share, random_state=seed)
    return labels.index[labels.index.isin(picked.index)]


def risk_band(probability: np.ndarray, settings: ChurnSettings) -> np.ndarray:
    """low / medium / high at the vars' thresholds."""
    return np.select(
        [probability >= settings.high_risk_from, probability >= settings.medium_risk_from],
        ["high", "medium"],
        default="low",
    )


# OpenMP in HistGradientBoosting oversubscribes the two cores dbt and DuckDB already use: on
# ~2,000 rows a fit took 3.3 s with the default threads and 0.27 s with one.
SINGLE_THREAD = 1


def score_customers(
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings = ChurnSettings(),
) -> pd.DataFrame:
    """Churn probability and risk band of every buyer at as_of_date (SCORES_SCHEMA), from
    orders and sessions (the reference path; the dbt model reads int_churn_feature_snapshots).
    """
    return score_training_set(
        training_set(orders, sessions, as_of_date, settings),
        point_in_time_features(orders, sessions, as_of_date),
        as_of_date,
        settings,
    )


def training_version(train: ChurnTrainingSet, settings: ChurnSettings) -> str:
    """model_version of a fit on `train` with `settings`: the hash of the training rows
    (features, labels, customer keys), the settings, the cutoff and MODEL_REVISION."""
    return model_version(
        [train.features, train.labels], MODEL_NAME, MODEL_REVISION, settings, train.cutoff
    )


def refit_key(cutoff: date, settings: ChurnSettings) -> str:
    """What decides whether int_churn_model refits: the training cutoff (so the retrain
    period), every setting, MODEL_REVISION and the library versions, not the training rows.
    Within a period the rows still move a little (identity merges re-attribute history, late
    rows arrive: 0.1 % of them a day at 100k customers); the period's fit is kept regardless."""
    return model_version([], MODEL_NAME, MODEL_REVISION, settings, cutoff)


def fit_churn_model(
    train: ChurnTrainingSet, settings: ChurnSettings
) -> CalibratedClassifierCV | None:
    """The calibrated classifier fitted on `train` as fit_plan says; None, with a warning,
    when it says nothing can be fitted."""
    plan = fit_plan(train.labels, settings)
    if plan.note:
        logger.warning("churn model at cutoff %s %s", train.cutoff, plan.note)
    if plan.folds < 2:
        return None
    with threadpool_limits(SINGLE_THREAD):
        return _classifier(settings, plan.folds).fit(
            train.features.to_numpy(), train.labels.to_numpy()
        )


def model_row(train: ChurnTrainingSet, settings: ChurnSettings) -> pd.DataFrame:
    """int_churn_model's one row (MODEL_SCHEMA): the fit on `train`, pickled, its version,
    when it was fitted (UTC), fit_status / fit_note from fit_plan and `settings` as JSON."""
    plan = fit_plan(train.labels, settings)
    model = fit_churn_model(train, settings)
    trained_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return pd.DataFrame(
        {
            "model_name": [MODEL_NAME],
            "model_version": [training_version(train, settings)],
            "refit_key": [refit_key(train.cutoff, settings)],
            "training_cutoff_date": [str(train.cutoff)],
            "training_size": [len(train.labels)],
            "positive_rate": [float(train.labels.mean()) if len(train.labels) else np.nan],
            "model_bytes": [dump_model(model) if model is not None else None],
            "trained_at": [trained_at],
            "fit_status": [plan.status],
            "fit_note": [plan.note],
            "fit_settings": [json.dumps(asdict(settings), sort_keys=True)],
        }
    )[list(MODEL_SCHEMA)]


def report_kept_fit(row: pd.DataFrame) -> None:
    """Warn with a kept int_churn_model row's fit_note, so a build that reuses a degraded or
    skipped fit records why as well as the build that made it."""
    for note in row["fit_note"].dropna():
        logger.warning("churn model kept from an earlier build of this period: %s", note)


def score_with_model(
    model_bytes: bytes | None,
    version: str | None,
    current: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings,
) -> pd.DataFrame:
    """Score every row of `current` (FEATURES at as_of_date) with a stored model (SCORES_SCHEMA);
    no rows when there is no model."""
    model = load_model(model_bytes) if model_bytes is not None else None
    return scores_of_model(model, version, current, as_of_date, settings)


def score_training_set(
    train: ChurnTrainingSet,
    current: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings = ChurnSettings(),
) -> pd.DataFrame:
    """Fit on `train`, score every row of `current` (FEATURES at as_of_date) (SCORES_SCHEMA),
    without storing anything.

    No rows, with a warning, when the training set is too small or has one class only.
    """
    model = fit_churn_model(train, settings)
    return scores_of_model(model, training_version(train, settings), current, as_of_date, settings)


def scores_of_model(
    model: CalibratedClassifierCV | Pipeline | None,
    version: str | None,
    current: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings,
) -> pd.DataFrame:
    """SCORES_SCHEMA rows of `current` (scoring_frame) under a loaded model; no rows without
    one. Row by row: scoring a frame in parts gives the rows scoring it whole gives (the Spark
    path scores each Arrow batch with this function)."""
    if model is None:
        return pd.DataFrame(columns=list(SCORES_SCHEMA))
    with threadpool_limits(SINGLE_THREAD):
        probability = model.predict_proba(current.to_numpy())[:, 1] if len(current) else []
    scores = pd.DataFrame(
        {
            "customer_key": current.index,
            "churn_probability": np.clip(probability, 0.0, 1.0),
        }
    )
    scores["churn_risk_band"] = risk_band(scores["churn_probability"].to_numpy(), settings)
    scores["churn_horizon_days"] = settings.horizon_days
    scores["model_version"] = version
    scores["as_of_date"] = str(_as_date(as_of_date))
    return scores[list(SCORES_SCHEMA)]


def evaluate(
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings = ChurnSettings(),
) -> pd.DataFrame:
    """evaluate_training_set on the training set built from orders and sessions."""
    return evaluate_training_set(
        training_set(orders, sessions, as_of_date, settings), as_of_date, settings
    )


def evaluate_training_set(
    train: ChurnTrainingSet, as_of_date: date | str, settings: ChurnSettings = ChurnSettings()
) -> pd.DataFrame:
    """Metrics (METRICS_SCHEMA, long format) of an outer stratified CV of the calibrated model.

    Always reports training_size and positive_rate; the CV metrics only when the training set
    can be learnt from (a warning otherwise).
    """
    rows = [
        ("training_size", float(len(train.labels))),
        ("positive_rate", float(train.labels.mean()) if len(train.labels) else np.nan),
    ]
    outer_folds = min(settings.outer_cv_folds, _minority(train.labels))
    if _trainable(train.labels, settings) and outer_folds >= 2:
        x = train.features.to_numpy()
        y = train.labels.to_numpy()
        out_of_fold = np.zeros(len(y))
        outer = StratifiedKFold(outer_folds, shuffle=True, random_state=settings.seed + 1)
        with threadpool_limits(SINGLE_THREAD):
            for fit_rows, test_rows in outer.split(x, y):
                model = _fitted(x[fit_rows], y[fit_rows], settings, 3)
                out_of_fold[test_rows] = model.predict_proba(x[test_rows])[:, 1]
        predicted = out_of_fold >= settings.decision_threshold
        rows += [
            ("roc_auc", roc_auc_score(y, out_of_fold)),
            ("precision_at_threshold", precision_score(y, predicted, zero_division=0)),
            ("recall_at_threshold", recall_score(y, predicted, zero_division=0)),
            ("decision_threshold", settings.decision_threshold),
            ("brier_score", brier_score_loss(y, out_of_fold)),
            ("expected_calibration_error", expected_calibration_error(y, out_of_fold)),
            ("cv_folds", float(outer_folds)),
        ]
        if outer_folds < settings.outer_cv_folds:
            logger.warning(
                "churn model evaluated on %d outer folds instead of %d: the smaller class has "
                "%d customers",
                outer_folds,
                settings.outer_cv_folds,
                outer_folds,
            )
    else:
        logger.warning(
            "churn model not evaluated (only training_size and positive_rate): %s",
            fit_plan(train.labels, settings).note,
        )
    metrics = pd.DataFrame(rows, columns=["metric", "value"])
    metrics["model_name"] = MODEL_NAME
    metrics["training_cutoff_date"] = str(train.cutoff)
    metrics["model_version"] = training_version(train, settings)
    metrics["as_of_date"] = str(_as_date(as_of_date))
    return metrics[list(METRICS_SCHEMA)]


def has_cv_metrics(metrics: pd.DataFrame) -> bool:
    """Whether model_metrics' rows hold the cross-validated metrics, not only training_size
    and positive_rate (what is left when the training set cannot be learnt from)."""
    return bool((metrics["metric"] == "roc_auc").any())


def feature_importance(
    orders: pd.DataFrame,
    sessions: pd.DataFrame,
    as_of_date: date | str,
    settings: ChurnSettings = ChurnSettings(),
) -> pd.DataFrame:
    """importance_of_training_set on the training set built from orders and sessions."""
    return importance_of_training_set(
        training_set(orders, sessions, as_of_date, settings), as_of_date, settings
    )


def importance_of_training_set(
    train: ChurnTrainingSet, as_of_date: date | str, settings: ChurnSettings = ChurnSettings()
) -> pd.DataFrame:
    """Permutation importance (drop in AUC) on a stratified 25% held out of the training set.

    IMPORTANCE_SCHEMA, one row per feature ranked by mean drop; no rows when the training set
    cannot be learnt from.
    """
    if not _trainable(train.labels, settings):
        logger.warning(
            "churn feature importance not computed: %s", fit_plan(train.labels, settings).note
        )
        return pd.DataFrame(columns=list(IMPORTANCE_SCHEMA))
    x = train.features.to_numpy()
    y = train.labels.to_numpy()
    # A quarter held out; fewer splits (a larger share held out) when the smaller class has
    # fewer than 4 customers, so the held-out rows still hold both classes.
    splits = min(4, _minority(y))
    split = StratifiedKFold(splits, shuffle=True, random_state=settings.seed + 2)
    fit_rows, test_rows = next(split.split(x, y))
    with threadpool_limits(SINGLE_THREAD):
        model = _fitted(x[fit_rows], y[fit_rows], settings, 3)
        permuted = permutation_importance(
            model,
            x[test_rows],
            y[test_rows],
            scoring="roc_auc",
            n_repeats=5,
            random_state=settings.seed,
        )
    importance = pd.DataFrame(
        {
            "feature": list(FEATURES),
            "importance_mean": permuted.importances_mean,
            "importance_std": permuted.importances_std,
        }
    ).sort_values(["importance_mean", "feature"], ascending=[False, True])
    importance["importance_rank"] = np.arange(1, len(importance) + 1)
    importance["model_name"] = MODEL_NAME
    importance["model_version"] = training_version(train, settings)
    importance["as_of_date"] = str(_as_date(as_of_date))
    return importance[list(IMPORTANCE_SCHEMA)].reset_index(drop=True)


def settings_from_config(config: Mapping[str, object]) -> ChurnSettings:
    """ChurnSettings from a dbt model's YAML config (values rendered from the ml__ vars)."""
    return ChurnSettings(
        horizon_days=int(config["churn_horizon_days"]),
        medium_risk_from=float(config["churn_medium_risk_from"]),
        high_risk_from=float(config["churn_high_risk_from"]),
        decision_threshold=float(config["churn_decision_threshold"]),
        cv_folds=int(config["churn_cv_folds"]),
        seed=int(config["random_seed"]),
        max_training_customers=int(config["churn_max_training_customers"]),
        outer_cv_folds=int(config["churn_outer_cv_folds"]),
        retrain_every_days=int(config["retrain_every_days"]),
    )


ORDER_COLUMNS = "customer_key, order_date, status, order_total_reporting"
SNAPSHOT_COLUMNS = "snapshot_name, customer_key, churned, " + ", ".join(FEATURES)
SESSION_COLUMNS = "customer_key, session_started_at"
