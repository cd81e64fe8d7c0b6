"""Behavioural clustering: k chosen on well-separated blobs by the documented rule, seeded
determinism, unique personas, ids matched to the previous run (Hungarian), the stability
alert, the method switch (K-Means / Ward / DBSCAN), and degenerate inputs that must not break
the build."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segwarehouse.ml.clustering import (
    CLUSTERS_SCHEMA,
    DIAGNOSTICS_SCHEMA,
    FEATURES,
    NOISE_ID,
    PROFILES_SCHEMA,
    ClusterSettings,
    choose_k,
    cluster_profiles,
    clusters_table,
    diagnostics_table,
    fit_settings_from,
    match_previous_ids,
    personas,
    prepare_features,
    settings_from,
    stability_ari,
    sweep_rows,
)

SETTINGS = ClusterSettings(k_min=2, k_max=6, silhouette_sample_size=500, seed=3)


def blobs(n_per_blob: int, centres: int, seed: int) -> pd.DataFrame:
    """Customers from `centres` well-separated groups in every feature."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(centres):
        centre = rng.uniform(0, 100, len(FEATURES))
        rows.append(centre + rng.normal(0, 1, (n_per_blob, len(FEATURES))))
    frame = pd.DataFrame(np.vstack(rows), columns=list(FEATURES)).abs()
    frame.index = pd.Index([f"cus_{i:05d}" for i in range(len(frame))], name="customer_key")
    return frame


def test_the_sweep_finds_the_number_of_blobs_and_clusters_are_reproducible() -> None:
    features = blobs(150, 4, seed=1)
    diagnostics = diagnostics_table(features, "2026-06-30", SETTINGS)
    assert list(diagnostics.columns) == list(DIAGNOSTICS_SCHEMA)
    assert diagnostics.groupby("method")["k"].agg(list).to_dict() == {
        "kmeans": [2, 3, 4, 5, 6],
        "ward": [2, 3, 4, 5, 6],
        "dbscan": [4],
    }
    assert diagnostics.loc[diagnostics["is_chosen"], ["method", "k"]].values.tolist() == [
        ["kmeans", 4]
    ]
    # every method finds the four blobs; only the configured method's row is chosen
    assert set(diagnostics.loc[diagnostics["is_candidate"], "k"]) == {4}
    kmeans = diagnostics[diagnostics["method"] == "kmeans"]
    assert kmeans["inertia"].is_monotonic_decreasing
    assert kmeans.set_index("k").loc[4, "inertia_drop_share"] > 0.9  # the elbow, recorded
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", SETTINGS)
    assert list(clusters.columns) == list(CLUSTERS_SCHEMA)
    assert clusters["customer_key"].is_unique and len(clusters) == 600
    assert clusters.groupby("cluster_id").size().tolist() == [150] * 4
    assert clusters["previous_cluster_id"].isna().all()
    # same data, previous run present: identical clusters, ARI 1.0
    again = clusters_table(
        features, diagnostics, clusters[["customer_key", "cluster_id"]], "2026-06-30", SETTINGS
    )
    pd.testing.assert_frame_equal(
        again.drop(columns="previous_cluster_id"), clusters.drop(columns="previous_cluster_id")
    )
    assert stability_ari(again) == pytest.approx(1.0)
    profiles = cluster_profiles(again, features, "2026-06-30")
    assert list(profiles.columns) == list(PROFILES_SCHEMA)
    assert profiles["persona"].is_unique and (profiles["persona"].str.len() > 0).all()
    assert profiles["n_customers"].sum() == 600
    assert (profiles["ari_vs_previous_run"] == 1.0).all()


def test_skewed_features_are_logged_and_constant_ones_dropped() -> None:
    rng = np.random.default_rng(2)
    features = blobs(100, 2, seed=2)
    features["net_revenue"] = rng.lognormal(5, 1.5, len(features))
    features["return_rate"] = 0.0
    prepared = prepare_features(features)
    assert prepared is not None
    assert "net_revenue" in prepared.logged
    assert "return_rate" not in prepared.columns
    np.testing.assert_allclose(prepared.matrix.mean(axis=0), 0, atol=1e-9)


def test_personas_are_unique_and_non_empty() -> None:
    centroids = pd.DataFrame(
        [[2.0, 1.0, 0.1], [2.0, 1.0, -0.1], [2.0, 1.0, 0.1], [0.0, 0.0, 0.0]],
        columns=["recency_days", "purchase_days", "net_revenue"],
    )
    names = personas(centroids)
    assert len(set(names)) == 4 and all(names)
    assert names[0] == "Lapsed Frequent"


@pytest.mark.parametrize(
    "features",
    [
        pd.DataFrame(columns=list(FEATURES)),
        blobs(3, 2, seed=4),
        pd.DataFrame({feature: [1.0] * 50 for feature in FEATURES}),
        # two distinct customers repeated: fewer distinct points than k_min + 1
        pd.DataFrame({feature: [1.0, 2.0] * 25 for feature in FEATURES}),
    ],
    ids=["no buyers", "too few buyers", "constant features", "two distinct points"],
)
def test_degenerate_inputs_give_empty_results(
    features: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    features.index = pd.Index([f"c{i}" for i in range(len(features))], name="customer_key")
    with caplog.at_level(logging.WARNING, logger="segwarehouse.ml.clustering"):
        diagnostics = diagnostics_table(features, "2026-06-30", SETTINGS)
        clusters = clusters_table(features, diagnostics, None, "2026-06-30", SETTINGS)
    assert "not computed" in caplog.text
    assert clusters.empty and list(clusters.columns) == list(CLUSTERS_SCHEMA)
    assert not diagnostics.get("is_chosen", pd.Series(dtype=bool)).any()
    profiles = cluster_profiles(clusters, features, "2026-06-30")
    assert profiles.empty and list(profiles.columns) == list(PROFILES_SCHEMA)


def test_the_sweep_runs_on_a_seeded_sample_when_there_are_more_buyers() -> None:
    features = blobs(300, 3, seed=5)
    sampled = ClusterSettings(**{**SETTINGS.__dict__, "sweep_sample_size": 400})
    rows = sweep_rows(len(features), sampled)
    assert len(rows) == 400 and len(np.unique(rows)) == 400
    np.testing.assert_array_equal(rows, sweep_rows(len(features), sampled))  # seeded
    np.testing.assert_array_equal(sweep_rows(300, sampled), np.arange(300))
    sampled = ClusterSettings(**{**sampled.__dict__, "comparison_sample_size": 250})
    diagnostics = diagnostics_table(features, "2026-06-30", sampled)
    sizes = diagnostics.groupby("method")["sweep_sample_size"].agg(set).to_dict()
    assert sizes == {"kmeans": {400}, "ward": {250}, "dbscan": {250}}
    assert (diagnostics["n_customers"] == 900).all()
    assert diagnostics.loc[diagnostics["is_chosen"], "k"].tolist() == [3]
    diagnostics = diagnostics[diagnostics["method"] == "kmeans"]
    # the sample's inertia: K-Means on exactly those standardised rows
    prepared = prepare_features(features)
    expected = KMeans(n_clusters=3, n_init=10, random_state=SETTINGS.seed).fit(
        prepared.matrix[rows]
    )
    inertia = diagnostics.set_index("k").loc[3, "inertia"]
    assert inertia == pytest.approx(expected.inertia_, rel=1e-9)
    full = diagnostics_table(features, "2026-06-30", SETTINGS)
    full = full[full["method"] == "kmeans"]
    assert (full["sweep_sample_size"] == 900).all()
    assert full.set_index("k").loc[3, "inertia"] > inertia  # all 900 rows, not 400
    # the published clusters still cover every buyer
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", sampled)
    assert len(clusters) == 900


def test_k_is_chosen_by_silhouette_within_tolerance_then_davies_bouldin() -> None:
    rows = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "silhouette": [0.300, 0.290, 0.285, 0.200],
            "davies_bouldin": [1.40, 0.95, 0.90, 0.50],
        }
    )
    candidate, chosen = choose_k(rows, tolerance=0.02)
    assert candidate.tolist() == [True, True, True, False]
    assert rows.loc[chosen, "k"].tolist() == [4]  # not the best silhouette (k = 2)
    _, strict = choose_k(rows, tolerance=0.0)
    assert rows.loc[strict, "k"].tolist() == [2]
    # equal Davies-Bouldin among candidates: the smaller k
    tied = rows.assign(davies_bouldin=[1.0, 0.9, 0.9, 0.5])
    assert rows.loc[choose_k(tied, 0.02)[1], "k"].tolist() == [3]


def _relabelled(clusters: pd.DataFrame, permutation: dict[int, int]) -> pd.DataFrame:
    return clusters.assign(cluster_id=clusters["cluster_id"].map(permutation))[
        ["customer_key", "cluster_id"]
    ]


def test_ids_follow_the_previous_run_when_its_clusters_are_permuted() -> None:
    features = blobs(120, 4, seed=6)
    diagnostics = diagnostics_table(features, "2026-06-30", SETTINGS)
    first = clusters_table(features, diagnostics, None, "2026-06-30", SETTINGS)
    assert sorted(first["cluster_id"].unique()) == [0, 1, 2, 3]
    # the previous run called the same groups 7, 2, 9, 4: today's run keeps those ids
    previous = _relabelled(first, {0: 7, 1: 2, 2: 9, 3: 4})
    # and a few buyers moved, so matching is by centroids, not by copying ids
    previous.loc[previous.index[:5], "cluster_id"] = 2
    again = clusters_table(features, diagnostics, previous, "2026-07-01", SETTINGS)
    assert (again["cluster_id"] == _relabelled(first, {0: 7, 1: 2, 2: 9, 3: 4})["cluster_id"]).all()
    assert sorted(again["cluster_id"].unique()) == [2, 4, 7, 9]
    assert stability_ari(again) > 0.95


def test_a_new_cluster_takes_a_new_id_above_the_previous_ones() -> None:
    features = blobs(120, 4, seed=6)
    diagnostics = diagnostics_table(features, "2026-06-30", SETTINGS)
    first = clusters_table(features, diagnostics, None, "2026-06-30", SETTINGS)
    # yesterday blobs 2 and 3 were one cluster (id 5); today they are two
    previous = _relabelled(first, {0: 3, 1: 0, 2: 5, 3: 5})
    again = clusters_table(features, diagnostics, previous, "2026-07-01", SETTINGS)
    ids = again.groupby(first["cluster_id"])["cluster_id"].agg(set).to_dict()
    assert ids[0] == {3} and ids[1] == {0}
    assert {ids[2].pop(), ids[3].pop()} == {5, 6}  # one keeps 5, the other is new


def test_match_previous_ids_is_the_least_cost_assignment() -> None:
    today = {0: np.array([0.0, 0.0]), 1: np.array([10.0, 0.0]), 2: np.array([0.0, 10.0])}
    yesterday = {4: np.array([9.0, 1.0]), 8: np.array([1.0, 9.0])}
    assert match_previous_ids(today, yesterday, [0, 1, 2]) == {1: 4, 2: 8, 0: 9}
    assert match_previous_ids(today, {}, [2, 0, 1]) == {2: 0, 0: 1, 1: 2}


def test_the_stability_alert_fires_on_an_unstable_pair_of_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    features = blobs(100, 3, seed=7)
    diagnostics = diagnostics_table(features, "2026-06-30", SETTINGS)
    first = clusters_table(features, diagnostics, None, "2026-06-30", SETTINGS)
    stable = clusters_table(
        features, diagnostics, first[["customer_key", "cluster_id"]], "2026-07-01", SETTINGS
    )
    profiles = cluster_profiles(stable, features, "2026-07-01", stability_alert_below=0.8)
    assert not profiles["is_stability_alert"].any()
    assert (profiles["stability_alert_below"] == 0.8).all()
    # yesterday's assignment unrelated to today's groups: ARI near 0, the alert fires
    rng = np.random.default_rng(0)
    shuffled = first.assign(cluster_id=rng.permutation(first["cluster_id"].to_numpy()))
    unstable = clusters_table(
        features, diagnostics, shuffled[["customer_key", "cluster_id"]], "2026-07-01", SETTINGS
    )
    with caplog.at_level(logging.WARNING, logger="segwarehouse.ml.clustering"):
        profiles = cluster_profiles(unstable, features, "2026-07-01", stability_alert_below=0.8)
    assert profiles["ari_vs_previous_run"].iloc[0] < 0.1
    assert profiles["is_stability_alert"].all()
    assert "clusters unstable" in caplog.text
    # a first run has no ARI and no alert
    assert not cluster_profiles(first, features, "2026-06-30")["is_stability_alert"].any()


@pytest.mark.parametrize("method", ["ward", "dbscan"])
def test_the_method_switch_publishes_that_method(method: str) -> None:
    features = blobs(120, 4, seed=8)
    settings = ClusterSettings(**{**SETTINGS.__dict__, "method": method})
    diagnostics = diagnostics_table(features, "2026-06-30", settings)
    chosen = diagnostics[diagnostics["is_chosen"]]
    assert chosen[["method", "k"]].values.tolist() == [[method, 4]]
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", settings)
    kmeans = clusters_table(
        features, diagnostics_table(features, "2026-06-30", SETTINGS), None, "x", SETTINGS
    )
    clustered = clusters["cluster_id"] != NOISE_ID
    assert clustered.mean() > 0.95 and len(clusters) == 480
    # the same four blobs as K-Means, found by another algorithm
    assert adjusted_rand_score(
        clusters.loc[clustered, "cluster_id"], kmeans.loc[clustered, "cluster_id"]
    ) == pytest.approx(1.0)


def test_dbscan_noise_is_its_own_cluster_and_an_unknown_method_is_refused() -> None:
    features = blobs(120, 3, seed=9)
    features.iloc[:4] = 1_000.0  # four far outliers, each alone
    settings = ClusterSettings(**{**SETTINGS.__dict__, "method": "dbscan"})
    diagnostics = diagnostics_table(features, "2026-06-30", settings)
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", settings)
    noise = clusters[clusters["cluster_id"] == NOISE_ID]
    assert set(noise["customer_key"]) >= set(features.index[:4])
    assert set(noise["persona"]) == {"Unclustered (DBSCAN noise)"}
    profiles = cluster_profiles(clusters, features, "2026-06-30")
    assert NOISE_ID in set(profiles["cluster_id"])
    with pytest.raises(ValueError, match="ml__cluster_method"):
        ClusterSettings(method="spectral")


def test_settings_come_from_the_model_config_and_a_missing_var_is_named() -> None:
    config = {
        "k_min": "2",
        "k_max": "5",
        "silhouette_sample_size": "100",
        "silhouette_tolerance": "0.05",
        "method": " Ward ",
        "sweep_sample_size": "1000",
        "comparison_sample_size": "300",
        "dbscan_min_samples": "7",
        "retrain_every_days": "7",
        "random_seed": "1",
    }
    settings = settings_from(config)
    assert (settings.method, settings.k_max, settings.silhouette_tolerance) == ("ward", 5, 0.05)
    with pytest.raises(ValueError, match="dbscan_min_samples"):
        settings_from({**config, "dbscan_min_samples": "None"})


@pytest.mark.parametrize("method", ["kmeans", "ward", "dbscan"])
def test_the_final_fit_reads_only_its_own_settings_and_publishes_the_same_clusters(
    method: str,
) -> None:
    """customer_clusters reads four config keys; the sweep's (k range, samples, tolerance,
    retrain period) make no difference to the clusters it publishes."""
    config = {
        "method": method,
        "comparison_sample_size": "300",
        "dbscan_min_samples": "7",
        "random_seed": "3",
    }
    fit = fit_settings_from(config)
    sweep_only = {"k_min": "2", "k_max": "6", "silhouette_sample_size": "500"}
    sweep = settings_from(
        {
            **config,
            **sweep_only,
            "silhouette_tolerance": "0.02",
            "sweep_sample_size": "1000",
            "retrain_every_days": "7",
        }
    )
    features = blobs(120, 4, seed=8)
    diagnostics = diagnostics_table(features, "2026-06-30", sweep)
    pd.testing.assert_frame_equal(
        clusters_table(features, diagnostics, None, "2026-06-30", fit),
        clusters_table(features, diagnostics, None, "2026-06-30", sweep),
    )
    with pytest.raises(ValueError, match="random_seed"):
        fit_settings_from({**config, "random_seed": None})
