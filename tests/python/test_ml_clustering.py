"""Behavioural clustering: k chosen on well-separated blobs, seeded determinism, unique
personas, stability index, and degenerate inputs that must not break the build."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans

from segwarehouse.ml.clustering import (
    CLUSTERS_SCHEMA,
    DIAGNOSTICS_SCHEMA,
    FEATURES,
    PROFILES_SCHEMA,
    ClusterSettings,
    cluster_profiles,
    clusters_table,
    diagnostics_table,
    personas,
    prepare_features,
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
    assert list(diagnostics["k"]) == [2, 3, 4, 5, 6]
    assert diagnostics.loc[diagnostics["is_chosen"], "k"].tolist() == [4]
    assert diagnostics["inertia"].is_monotonic_decreasing
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
    diagnostics = diagnostics_table(features, "2026-06-30", sampled)
    assert (diagnostics["sweep_sample_size"] == 400).all()
    assert (diagnostics["n_customers"] == 900).all()
    assert diagnostics.loc[diagnostics["is_chosen"], "k"].tolist() == [3]
    # the sample's inertia: K-Means on exactly those standardised rows
    prepared = prepare_features(features)
    expected = KMeans(n_clusters=3, n_init=10, random_state=SETTINGS.seed).fit(
        prepared.matrix[rows]
    )
    inertia = diagnostics.set_index("k").loc[3, "inertia"]
    assert inertia == pytest.approx(expected.inertia_, rel=1e-9)
    full = diagnostics_table(features, "2026-06-30", SETTINGS)
    assert (full["sweep_sample_size"] == 900).all()
    assert full.set_index("k").loc[3, "inertia"] > inertia  # all 900 rows, not 400
    # the published clusters still cover every buyer
    clusters = clusters_table(features, diagnostics, None, "2026-06-30", sampled)
    assert len(clusters) == 900
