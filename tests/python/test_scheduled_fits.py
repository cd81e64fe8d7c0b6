"""Train on a schedule, score every day (segwarehouse.ml.model_cache; the churn model, the
cluster k sweep and the Splink matcher):
retrain anchors, model versions that change exactly with what a fit depends on, stored models
that predict like the fit they came from, and, on the generated warehouse, a daily refresh
that keeps the period's fit, scores like a fresh fit, equals a --full-refresh, and refits at
the next anchor or on a changed setting."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import END_DATE, Workspace, copied_workspace, frame
from segwarehouse.ml.churn import (
    FEATURES,
    METRICS_SCHEMA,
    SCORES_SCHEMA,
    SNAPSHOT_COLUMNS,
    ChurnSettings,
    ChurnTrainingSet,
    evaluate_training_set,
    fit_churn_model,
    frames_from_snapshots,
    model_row,
    rows_of_the_fit,
    score_training_set,
    score_with_model,
    scores_of_the_fit,
    settings_of_the_fit,
    training_version,
)
from segwarehouse.ml.model_cache import load_model, model_version, retrain_anchor

# The models that fit on a schedule: the churn model and its readers, the k sweep and the
# Splink matcher; int_run_context gives the Python models the selected build's as_of_date.
SCHEDULED_MODELS = (
    "int_run_context",
    "int_churn_model",
    "customer_churn_scores",
    "model_metrics",
    "model_feature_importance",
    "cluster_diagnostics",
    "int_identity_match_model",
    "int_identity_probabilistic_links",
)


@pytest.mark.parametrize(
    ("as_of", "every_days", "anchor"),
    [
        ("2026-06-29", 7, "2026-06-29"),  # a Monday is its own anchor
        ("2026-06-30", 7, "2026-06-29"),
        ("2026-07-05", 7, "2026-06-29"),  # Sunday: still that week's Monday
        ("2026-07-06", 7, "2026-07-06"),
        ("2026-06-30", 1, "2026-06-30"),  # daily retraining: as_of_date itself
        ("1970-01-04", 7, "1969-12-29"),  # before the epoch
        ("1970-01-07", 3, "1970-01-05"),
        ("1970-01-08", 3, "1970-01-08"),
    ],
)
def test_retrain_anchor(as_of: str, every_days: int, anchor: str) -> None:
    assert retrain_anchor(as_of, every_days) == date.fromisoformat(anchor)


def test_retrain_anchor_rejects_a_period_below_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        retrain_anchor("2026-06-30", 0)


@pytest.fixture(scope="module")
def learnable() -> ChurnTrainingSet:
    """400 customers whose churn follows recency, with noise."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame(
        rng.normal(size=(400, len(FEATURES))),
        columns=list(FEATURES),
        index=pd.Index([f"cus_{i:016x}" for i in range(400)], name="customer_key"),
    )
    labels = pd.Series(
        (features["recency_days"] + rng.normal(scale=0.5, size=400) > 0).astype(int),
        index=features.index,
        name="churned",
    )
    return ChurnTrainingSet(date(2026, 3, 31), features, labels)


def test_model_version_changes_exactly_with_what_a_fit_depends_on(learnable) -> None:
    settings = ChurnSettings()
    version = training_version(learnable, settings)
    same = ChurnTrainingSet(learnable.cutoff, learnable.features.copy(), learnable.labels.copy())
    assert training_version(same, settings) == version

    flipped = learnable.labels.copy()
    flipped.iloc[17] = 1 - flipped.iloc[17]
    nudged = learnable.features.copy()
    nudged.iloc[3, 5] += 1e-9
    renamed = learnable.features.rename(index={learnable.features.index[0]: "cus_ffffffffffffffff"})
    changed = {
        "one label": ChurnTrainingSet(learnable.cutoff, learnable.features, flipped),
        "one feature value": ChurnTrainingSet(learnable.cutoff, nudged, learnable.labels),
        "one customer": ChurnTrainingSet(
            learnable.cutoff, renamed, learnable.labels.set_axis(renamed.index)
        ),
        "the cutoff": ChurnTrainingSet(
            learnable.cutoff - timedelta(days=1), learnable.features, learnable.labels
        ),
    }
    for what, train in changed.items():
        assert training_version(train, settings) != version, what
    assert training_version(learnable, ChurnSettings(seed=43)) != version
    assert training_version(learnable, ChurnSettings(cv_folds=4)) != version
    # the hash covers values, not only shapes: equal shapes, other numbers
    assert model_version([pd.DataFrame({"a": [1.0]})]) != model_version(
        [pd.DataFrame({"a": [2.0]})]
    )


def test_a_stored_model_scores_like_a_fresh_fit(learnable) -> None:
    settings = ChurnSettings(min_training_customers=100)
    row = model_row(learnable, settings).iloc[0]
    assert row["model_version"] == training_version(learnable, settings)
    assert row["training_size"] == 400 and row["model_bytes"] is not None
    current = learnable.features.iloc[::3]
    stored = score_with_model(
        row["model_bytes"], row["model_version"], current, "2026-06-30", settings
    )
    fresh = score_training_set(learnable, current, "2026-06-30", settings)
    pd.testing.assert_frame_equal(stored, fresh)
    assert set(stored["model_version"]) == {row["model_version"]}
    model = fit_churn_model(learnable, settings)
    np.testing.assert_array_equal(
        load_model(row["model_bytes"]).predict_proba(current.to_numpy()),
        model.predict_proba(current.to_numpy()),
    )


def test_an_unlearnable_training_set_stores_no_model(learnable) -> None:
    one_class = ChurnTrainingSet(learnable.cutoff, learnable.features, learnable.labels * 0)
    row = model_row(one_class, ChurnSettings()).iloc[0]
    assert row["model_bytes"] is None
    assert score_with_model(None, None, learnable.features, "2026-06-30", ChurnSettings()).empty


def _snapshots(train: ChurnTrainingSet) -> pd.DataFrame:
    """int_churn_feature_snapshots' rows: `train` as the training and the scoring snapshot."""
    training = train.features.assign(snapshot_name="training", churned=train.labels)
    scoring = train.features.assign(snapshot_name="scoring", churned=None)
    return pd.concat([training, scoring]).reset_index()[SNAPSHOT_COLUMNS.split(", ")]


NO_MODEL = (
    "select null::varchar as model_version, null::blob as model_bytes, "
    "null::varchar as fit_note, null::varchar as fit_settings where false"
)


def test_the_churn_marts_read_the_settings_the_model_was_fitted_with(learnable) -> None:
    """int_churn_model records its settings (fit_settings): the scores take the horizon from
    there and the risk bands from their own config; model_metrics the decision threshold."""
    fitted = ChurnSettings(
        horizon_days=60, medium_risk_from=0.3, high_risk_from=0.6, decision_threshold=0.4
    )
    con = duckdb.connect()
    model = con.from_df(model_row(learnable, fitted))
    # equal to the letter: model_version hashes the settings' repr (1 and 1.0 would differ)
    assert repr(settings_of_the_fit(model)) == repr(fitted)
    snapshots = con.from_df(_snapshots(learnable))
    bands = {"churn_medium_risk_from": "0.5", "churn_high_risk_from": "0.9"}
    scores = scores_of_the_fit(model, snapshots, "2026-06-30", bands)
    assert len(scores) == 400 and set(scores["churn_horizon_days"]) == {60}
    probability = scores["churn_probability"]
    expected = np.where(probability >= 0.9, "high", np.where(probability >= 0.5, "medium", "low"))
    assert (scores["churn_risk_band"] == expected).all()
    assert set(expected) == {"low", "medium", "high"}  # the bands are not the fit's 0.3 / 0.6

    metrics = rows_of_the_fit(
        con,
        "no_previous_build",
        snapshots,
        model,
        "2026-06-30",
        evaluate_training_set,
        METRICS_SCHEMA,
    )
    assert metrics.set_index("metric")["value"]["decision_threshold"] == 0.4

    without = con.sql(NO_MODEL)
    assert settings_of_the_fit(without) is None
    assert list(scores_of_the_fit(without, snapshots, "2026-06-30", bands)) == list(SCORES_SCHEMA)
    assert scores_of_the_fit(without, snapshots, "2026-06-30", bands).empty
    nothing = rows_of_the_fit(
        con,
        "no_previous_build",
        snapshots,
        without,
        "2026-06-30",
        evaluate_training_set,
        METRICS_SCHEMA,
    )
    assert nothing.empty and list(nothing) == list(METRICS_SCHEMA)


def _snapshot_model_and_marts(workspace: Workspace) -> dict[str, pd.DataFrame]:
    return {
        "model": frame(
            workspace, "select * exclude (model_bytes) from intermediate.int_churn_model"
        ),
        "scores": frame(
            workspace, "select * from marts.customer_churn_scores order by customer_key"
        ),
        "metrics": frame(workspace, "select * from marts.model_metrics order by metric"),
        "importance": frame(
            workspace, "select * from marts.model_feature_importance order by feature"
        ),
        "sweep": frame(workspace, "select * from marts.cluster_diagnostics order by method, k"),
        "matcher": frame(workspace, "select * from intermediate.int_identity_match_model"),
        "links": frame(
            workspace,
            "select * from intermediate.int_identity_probabilistic_links "
            "order by node_id_a, node_id_b",
        ),
    }


def test_daily_refresh_keeps_the_period_fit_and_equals_a_full_refresh(
    built: Workspace, tmp_path: Path
) -> None:
    first = _snapshot_model_and_marts(built)
    [model] = first["model"].to_dict("records")
    # END_DATE is a Tuesday: the training snapshot is as of Monday's anchor minus the horizon.
    anchor = retrain_anchor(END_DATE, 7)
    assert model["training_cutoff_date"].date() == anchor - timedelta(days=90)

    # The next day, same week: nothing is fitted, the stored model scores the new day.
    workspace = copied_workspace(built, tmp_path / "daily")
    next_day = {
        "as_of_date": str(END_DATE + timedelta(days=1)),
        "segments__loaded_at": f"{END_DATE + timedelta(days=2)} 00:00:00",
    }
    run = workspace.dbt(
        "run", "--select", "int_churn_feature_snapshots", *SCHEDULED_MODELS, dbt_vars=next_day
    )
    assert run.returncode == 0, run.output
    daily = _snapshot_model_and_marts(workspace)
    pd.testing.assert_frame_equal(daily["model"], first["model"])  # same version, same trained_at
    assert set(daily["sweep"]["swept_as_of_date"].astype(str)) == {str(END_DATE)}
    for name in ("matcher", "links"):  # Splink scored with the kept model: the same links
        pd.testing.assert_frame_equal(daily[name], first[name], obj=name)
    assert len(daily["links"]) > 100
    for name in ("metrics", "importance", "sweep"):
        pd.testing.assert_frame_equal(
            daily[name].drop(columns="as_of_date"), first[name].drop(columns="as_of_date")
        )
        assert set(daily[name]["as_of_date"].astype(str)) == {next_day["as_of_date"]}

    # ... and its scores are those of a fresh fit on the same training rows.
    snapshots = frame(
        workspace, f"select {SNAPSHOT_COLUMNS} from intermediate.int_churn_feature_snapshots"
    )
    settings = ChurnSettings()
    train, current = frames_from_snapshots(snapshots, next_day["as_of_date"], settings)
    assert training_version(train, settings) == model["model_version"]
    fresh = score_training_set(train, current, next_day["as_of_date"], settings)
    fresh["as_of_date"] = pd.to_datetime(fresh["as_of_date"])
    pd.testing.assert_frame_equal(
        daily["scores"].reset_index(drop=True),
        fresh.sort_values("customer_key").reset_index(drop=True),
        check_dtype=False,
    )

    # The same selection with --full-refresh on the same warehouse: the same tables.
    run = workspace.dbt(
        "run",
        "--full-refresh",
        "--select",
        "int_churn_feature_snapshots",
        *SCHEDULED_MODELS,
        dbt_vars=next_day,
    )
    assert run.returncode == 0, run.output
    rebuilt = _snapshot_model_and_marts(workspace)
    for name, table in daily.items():
        pd.testing.assert_frame_equal(rebuilt[name], table, obj=name)

    # Training rows that move within the period (here: a buyer's orders before the cutoff
    # vanish, as an identity merge or an erasure would do) keep the period's fit: the model
    # and everything computed from it stay, though today's rows have another version.
    [(moved,)] = workspace.query(
        "select min(customer_sk) from intermediate.int_customer_orders "
        f"where order_date <= date '{model['training_cutoff_date'].date()}'"
    )
    with duckdb.connect(str(workspace.warehouse)) as con:
        con.execute("delete from intermediate.int_customer_orders where customer_sk = ?", [moved])
    run = workspace.dbt(
        "run", "--select", "int_churn_feature_snapshots", *SCHEDULED_MODELS, dbt_vars=next_day
    )
    assert run.returncode == 0, run.output
    moved_rows = _snapshot_model_and_marts(workspace)
    pd.testing.assert_frame_equal(moved_rows["model"], first["model"])
    pd.testing.assert_frame_equal(moved_rows["metrics"], daily["metrics"])
    snapshots = frame(
        workspace, f"select {SNAPSHOT_COLUMNS} from intermediate.int_churn_feature_snapshots"
    )
    today, _ = frames_from_snapshots(snapshots, next_day["as_of_date"], settings)
    assert training_version(today, settings) != model["model_version"]

    # The next period's anchor refits, and so does a changed setting.
    next_week = {
        "as_of_date": str(END_DATE + timedelta(days=7)),
        "segments__loaded_at": f"{END_DATE + timedelta(days=8)} 00:00:00",
    }
    run = workspace.dbt(
        "run", "--select", "int_churn_feature_snapshots", *SCHEDULED_MODELS, dbt_vars=next_week
    )
    assert run.returncode == 0, run.output
    [weekly] = _snapshot_model_and_marts(workspace)["model"].to_dict("records")
    assert weekly["training_cutoff_date"].date() == anchor + timedelta(days=7 - 90)
    assert weekly["trained_at"] > model["trained_at"]
    sweep = frame(workspace, "select distinct swept_as_of_date from marts.cluster_diagnostics")
    assert [str(day.date()) for day in sweep["swept_as_of_date"]] == [next_week["as_of_date"]]
    [matcher] = frame(workspace, "select * from intermediate.int_identity_match_model").to_dict(
        "records"
    )
    assert matcher["trained_at"] > first["matcher"]["trained_at"].item()
    assert matcher["refit_key"] != first["matcher"]["refit_key"].item()
    run = workspace.dbt(
        "run",
        "--select",
        *SCHEDULED_MODELS,
        dbt_vars={**next_week, "ml__churn_max_training_customers": 1500},
    )
    assert run.returncode == 0, run.output
    refit = _snapshot_model_and_marts(workspace)
    [new_model] = refit["model"].to_dict("records")
    assert new_model["refit_key"] != weekly["refit_key"]
    assert new_model["model_version"] != weekly["model_version"]
    assert new_model["trained_at"] > weekly["trained_at"]
    assert new_model["training_size"] <= 1501
    assert set(refit["metrics"]["model_version"]) == {new_model["model_version"]}
    assert set(refit["scores"]["model_version"]) == {new_model["model_version"]}


def test_a_period_below_one_day_stops_compilation_naming_the_var(workspace: Workspace) -> None:
    run = workspace.dbt(
        "compile",
        "--select",
        "int_churn_feature_snapshots",
        dbt_vars={"as_of_date": "2026-06-30", "ml__retrain_every_days": 0},
    )
    assert run.returncode != 0
    assert "ml__retrain_every_days" in run.output and "got '0'" in run.output
