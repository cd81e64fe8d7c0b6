"""ML marts on the generated data set (the session's `built` warehouse): CLV sane against the
customers' own history, churn scores calibrated and better than chance, and the churn-risk
family in segment membership; clusters stable across runs."""

from __future__ import annotations

from pathlib import Path

from conftest import BUILD_VARS, Workspace, copied_workspace, frame


def test_clv_is_fitted_and_sane(built: Workspace) -> None:
    params = frame(built, "select * from marts.clv_model_params")
    assert set(zip(params["model_name"], params["parameter"], strict=True)) == {
        ("bg_nbd", "r"),
        ("bg_nbd", "alpha"),
        ("bg_nbd", "a"),
        ("bg_nbd", "b"),
        ("gamma_gamma", "p"),
        ("gamma_gamma", "q"),
        ("gamma_gamma", "v"),
    }
    assert (params["value"] > 0).all()
    assert set(params["fitted_at"].astype(str)) == {"2026-06-30"}

    clv = frame(
        built,
        "select clv.*, rfm.purchase_days, rfm.net_revenue, rfm.lifecycle_stage "
        "from marts.customer_clv as clv "
        "inner join marts.customer_rfm as rfm using (customer_key)",
    )
    [(buyers,)] = built.query("select count(*) from marts.customer_rfm where frequency is not null")
    assert len(clv) == buyers and clv["customer_key"].is_unique
    assert clv["probability_alive"].between(0, 1).all()
    assert clv[["expected_purchases_90d", "expected_purchases_365d", "clv"]].ge(0).all().all()
    # Predicted purchase days next year are of the order of last year's (same population).
    [(last_year,)] = built.query(
        "select count(distinct (customer_sk, order_date)) from intermediate.int_customer_orders "
        "where is_completed and order_date > date '2026-06-30' - 365"
    )
    assert 0.5 < clv["expected_purchases_365d"].sum() / last_year < 1.5
    # Customers still buying are worth more than those who went quiet.
    by_stage = clv.groupby("lifecycle_stage")["clv"].mean()
    assert by_stage["active"] > by_stage["churned"]
    assert clv.loc[clv["lifecycle_stage"] == "active", "probability_alive"].mean() > (
        clv.loc[clv["lifecycle_stage"] == "churned", "probability_alive"].mean()
    )


def test_churn_model_beats_chance_and_scores_every_buyer(built: Workspace) -> None:
    metrics = frame(built, "select metric, value from marts.model_metrics").set_index("metric")[
        "value"
    ]
    assert metrics["roc_auc"] > 0.5, metrics
    assert metrics["training_size"] > 1_000
    assert 0 <= metrics["expected_calibration_error"] < 0.1
    scores = frame(built, "select * from marts.customer_churn_scores")
    [(buyers,)] = built.query("select count(*) from marts.customer_features where not is_prospect")
    assert len(scores) == buyers and scores["customer_key"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["churn_risk_band"]) == {"low", "medium", "high"}
    importance = frame(built, "select * from marts.model_feature_importance")
    assert importance.loc[importance["importance_rank"] == 1, "importance_mean"].item() > 0

    families = dict(
        built.query(
            "select segment_id, count(*) from marts.segment_membership "
            "where segment_family = 'churn_risk' group by segment_id"
        )
    )
    [(customers,)] = built.query("select count(*) from marts.customer_features")
    assert sum(families.values()) == customers
    assert families["churn_risk_unscored"] == customers - buyers


def test_clusters_are_chosen_named_and_stable_across_runs(built: Workspace, tmp_path: Path) -> None:
    diagnostics = frame(built, "select * from marts.cluster_diagnostics")
    assert set(diagnostics["method"]) == {"kmeans", "ward", "dbscan"}
    assert diagnostics["is_chosen"].sum() == 1
    [chosen_row] = diagnostics[diagnostics["is_chosen"]].to_dict("records")
    assert chosen_row["method"] == "kmeans"  # var ml__cluster_method's default
    chosen = int(chosen_row["k"])
    # the documented rule: silhouette within the tolerance of the best, then lowest DB
    kmeans = diagnostics[diagnostics["method"] == "kmeans"]
    candidates = kmeans[kmeans["silhouette"] >= kmeans["silhouette"].max() - 0.02]
    assert set(candidates["k"]) == set(kmeans.loc[kmeans["is_candidate"], "k"])
    assert chosen_row["davies_bouldin"] == candidates["davies_bouldin"].min()
    profiles = frame(built, "select * from marts.cluster_profiles")
    assert len(profiles) == chosen and profiles["persona"].is_unique
    [(buyers,)] = built.query("select count(*) from marts.customer_features where not is_prospect")
    assert profiles["n_customers"].sum() == buyers
    assert profiles["ari_vs_previous_run"].isna().all()  # first build
    assert not profiles["is_stability_alert"].any()

    # A second build on the same data reads the first one's clusters: identical, ARI 1.0.
    workspace = copied_workspace(built, tmp_path / "rerun")
    run = workspace.dbt(
        "run", "--select", "customer_clusters", "cluster_profiles", dbt_vars=BUILD_VARS
    )
    assert run.returncode == 0, run.output
    [(moved, kept)] = workspace.query(
        "select count(*) filter (where cluster_id <> previous_cluster_id), "
        "count(*) filter (where cluster_id = previous_cluster_id) from marts.customer_clusters"
    )
    assert (moved, kept) == (0, buyers)
    [(ari, alert)] = workspace.query(
        "select distinct ari_vs_previous_run, is_stability_alert from marts.cluster_profiles"
    )
    assert (ari, alert) == (1.0, False)
    # A threshold above the ARI raises the alert: flagged rows and a warning, not a failure.
    strict = {**BUILD_VARS, "ml__cluster_stability_alert_below": 1.01}
    run = workspace.dbt("build", "--select", "cluster_profiles", dbt_vars=strict)
    assert run.returncode == 0, run.output
    assert f"WARN {len(profiles)} cluster_profiles_stable_against_previous_run" in run.output
    [(alert,)] = workspace.query("select distinct is_stability_alert from marts.cluster_profiles")
    assert alert is True


def test_lookalikes_of_champions_exclude_them_and_flag_the_top_n(built: Workspace) -> None:
    [(overlap,)] = built.query(
        "select count(*) from marts.lookalike_scores "
        "inner join marts.segment_membership using (customer_key) "
        "where segment_membership.segment_id = 'rfm_champions'"
    )
    assert overlap == 0
    [(rows, top, seeds)] = built.query(
        "select count(*), count(*) filter (where is_top_n), max(seed_members) "
        "from marts.lookalike_scores"
    )
    [(champions,)] = built.query(
        "select count(*) from marts.segment_membership where segment_id = 'rfm_champions'"
    )
    [(buyers,)] = built.query("select count(*) from marts.customer_features where not is_prospect")
    assert seeds == champions > 0
    assert rows == buyers - champions and top == 100
