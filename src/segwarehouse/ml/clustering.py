"""Behavioural clusters of buyers: K-Means over a k range, personas from centroid profiles.

Features come from customer_features (buyers only). Skewed non-negative features (sample
skewness above SKEW_THRESHOLD) are log1p-transformed, missing values take the median, constant
features are dropped, and the rest are standardised. k is chosen by the silhouette on a
seeded sample (ties: the lower Davies-Bouldin index); inertia is recorded for every k. Every
random choice is seeded, so the same data gives the same clusters (adjusted Rand index 1.0
against the previous run). The k sweep is model selection: it runs on the first build of a
retrain period (var ml__retrain_every_days) and is kept for the rest of it
(sweep_refit_key); the final fit at the chosen k runs on every build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score
from threadpoolctl import threadpool_limits

from segwarehouse.ml.model_cache import model_version, retrain_anchor

logger = logging.getLogger("segwarehouse.ml.clustering")

SKEW_THRESHOLD = 1.0
MIN_CUSTOMERS = 20

# feature -> (trait when the centroid is high, trait when it is low)
TRAITS = {
    "recency_days": ("Lapsed", "Recent"),
    "purchase_days": ("Frequent", "One-off"),
    "net_revenue": ("High-spend", "Low-spend"),
    "avg_order_value": ("Big-basket", "Small-basket"),
    "distinct_categories": ("Explorer", "Focused"),
    "discount_share": ("Deal-seeking", "Full-price"),
    "return_rate": ("Returning", "Keeping"),
    "sessions_30d": ("Browsing", "Offline"),
    "email_open_rate": ("Email-engaged", "Email-quiet"),
    "mobile_session_share": ("Mobile", "Desktop"),
}
FEATURES = tuple(TRAITS)

DIAGNOSTICS_SCHEMA = {
    "k": "integer",
    "inertia": "double",
    "silhouette": "double",
    "davies_bouldin": "double",
    "is_chosen": "boolean",
    "n_customers": "integer",
    "silhouette_sample_size": "integer",
    "sweep_sample_size": "integer",
    "refit_key": "varchar",
    "swept_as_of_date": "date",
    "as_of_date": "date",
}

CLUSTERS_SCHEMA = {
    "customer_key": "varchar",
    "cluster_id": "integer",
    "persona": "varchar",
    "previous_cluster_id": "integer",
    "pca_1": "double",
    "pca_2": "double",
    "as_of_date": "date",
}

PROFILES_SCHEMA = {
    "cluster_id": "integer",
    "persona": "varchar",
    "n_customers": "integer",
    "customer_share": "double",
    **{f"mean_{feature}": "double" for feature in FEATURES},
    "ari_vs_previous_run": "double",
    "as_of_date": "date",
}


@dataclass(frozen=True)
class ClusterSettings:
    """vars ml__cluster_*: k range, sweep and silhouette sample sizes, seed."""

    k_min: int = 2
    k_max: int = 8
    silhouette_sample_size: int = 2000
    seed: int = 42
    # The k sweep (7 K-Means fits with 10 starts each, and Davies-Bouldin) runs on a seeded
    # sample of at most this many buyers; customer_clusters' final fit uses every buyer.
    sweep_sample_size: int = 200_000
    # The sweep is kept for a retrain period of this many days (segwarehouse.ml.model_cache).
    retrain_every_days: int = 7


# Part of the sweep's refit_key: bump it when the sweep or the feature preparation changes.
SWEEP_REVISION = 1


def sweep_refit_key(as_of_date: str, settings: ClusterSettings) -> str:
    """What decides whether cluster_diagnostics sweeps again: the retrain anchor of
    as_of_date, the settings, SWEEP_REVISION and the library versions."""
    anchor = retrain_anchor(as_of_date, settings.retrain_every_days)
    return model_version([], "kmeans_sweep", SWEEP_REVISION, FEATURES, settings, anchor)


def sweep_rows(n: int, settings: ClusterSettings) -> np.ndarray:
    """Row numbers the k sweep fits on: all n when n <= sweep_sample_size, else a seeded
    sample of that many, in ascending order."""
    if n <= settings.sweep_sample_size:
        return np.arange(n)
    rng = np.random.default_rng(settings.seed)
    return np.sort(rng.choice(n, size=settings.sweep_sample_size, replace=False))


@dataclass
class PreparedFeatures:
    """The standardised matrix and what was done to get it."""

    keys: pd.Index
    matrix: np.ndarray
    columns: list[str]
    logged: list[str]


def prepare_features(features: pd.DataFrame) -> PreparedFeatures | None:
    """Buyers' features, log1p where skewed, median-imputed, constant ones dropped, scaled.

    `features` is indexed by customer_key with the FEATURES columns. None (with a warning)
    when too few customers or no feature varies.
    """
    frame = features.reindex(columns=list(FEATURES)).astype(float).sort_index()
    frame = frame.fillna(frame.median()).fillna(0.0)
    logged = []
    for column in frame.columns:
        values = frame[column]
        if (values >= 0).all() and values.std() > 0 and stats.skew(values) > SKEW_THRESHOLD:
            frame[column] = np.log1p(values)
            logged.append(column)
    varying = [column for column in frame.columns if frame[column].std() > 1e-12]
    if len(frame) < MIN_CUSTOMERS or not varying:
        logger.warning(
            "clusters not computed: %d buyers (needs %d), %d varying features",
            len(frame),
            MIN_CUSTOMERS,
            len(varying),
        )
        return None
    frame = frame[varying]
    scaled = (frame - frame.mean()) / frame.std(ddof=0)
    return PreparedFeatures(frame.index, scaled.to_numpy(), varying, logged)


def sweep_k(prepared: PreparedFeatures, settings: ClusterSettings) -> pd.DataFrame:
    """Inertia, silhouette (seeded sample) and Davies-Bouldin per k; the chosen k flagged.

    Computed on `sweep_rows` (every buyer up to ml__cluster_sweep_sample_size): inertia is then
    the sample's, comparable across k, which is what choosing k needs.
    """
    n = len(prepared.keys)
    matrix = prepared.matrix[sweep_rows(n, settings)]
    distinct = len(np.unique(matrix, axis=0))
    rows = []
    sample = min(settings.silhouette_sample_size, len(matrix))
    with threadpool_limits(1):
        for k in range(settings.k_min, min(settings.k_max, distinct - 1, n - 1) + 1):
            model = KMeans(n_clusters=k, n_init=10, random_state=settings.seed).fit(matrix)
            rows.append(
                {
                    "k": k,
                    "inertia": float(model.inertia_),
                    "silhouette": float(
                        silhouette_score(
                            matrix,
                            model.labels_,
                            sample_size=sample,
                            random_state=settings.seed,
                        )
                    ),
                    "davies_bouldin": float(davies_bouldin_score(matrix, model.labels_)),
                }
            )
    diagnostics = pd.DataFrame(rows, columns=["k", "inertia", "silhouette", "davies_bouldin"])
    if diagnostics.empty:
        logger.warning("clusters not computed: fewer than %d distinct customers", settings.k_min)
        return diagnostics.assign(is_chosen=pd.Series(dtype=bool))
    best = diagnostics.sort_values(["silhouette", "davies_bouldin"], ascending=[False, True])
    diagnostics["is_chosen"] = diagnostics["k"] == best["k"].iloc[0]
    diagnostics["n_customers"] = n
    diagnostics["silhouette_sample_size"] = sample
    diagnostics["sweep_sample_size"] = len(matrix)
    return diagnostics


def personas(centroids: pd.DataFrame) -> list[str]:
    """Unique, non-empty names from each centroid's strongest standardised traits."""
    names = []
    for _, centroid in centroids.iterrows():
        ordered = centroid.abs().sort_values(ascending=False, kind="stable").index
        traits = [TRAITS[f][0] if centroid[f] > 0 else TRAITS[f][1] for f in ordered]
        name = " ".join(traits[:2]) if traits else "Typical"
        depth = 2
        while name in names and depth < len(traits):
            depth += 1
            name = " ".join(traits[:depth])
        if name in names or not name:
            name = f"{name or 'Typical'} {len(names) + 1}"
        names.append(name)
    return names


def assign_clusters(
    prepared: PreparedFeatures, k: int, settings: ClusterSettings
) -> tuple[pd.DataFrame, list[str]]:
    """cluster_id (0 = largest), persona and 2-D PCA coordinates per customer."""
    with threadpool_limits(1):
        model = KMeans(n_clusters=k, n_init=10, random_state=settings.seed).fit(prepared.matrix)
        components = min(2, prepared.matrix.shape[1])
        coordinates = PCA(n_components=components, random_state=settings.seed).fit_transform(
            prepared.matrix
        )
    sizes = np.bincount(model.labels_, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(model.cluster_centers_[c])))
    relabel = {old: new for new, old in enumerate(order)}
    labels = np.array([relabel[label] for label in model.labels_])
    centroids = pd.DataFrame(model.cluster_centers_[order], columns=prepared.columns)
    names = personas(centroids)
    result = pd.DataFrame(
        {
            "customer_key": prepared.keys,
            "cluster_id": labels,
            "persona": [names[label] for label in labels],
            "pca_1": coordinates[:, 0],
            "pca_2": coordinates[:, 1] if components > 1 else 0.0,
        }
    )
    return result, names


def with_previous_run(clusters: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Adds previous_cluster_id (null for customers new since, or on a first run)."""
    if previous is None or previous.empty:
        return clusters.assign(previous_cluster_id=pd.NA)
    mapping = previous.set_index("customer_key")["cluster_id"]
    return clusters.assign(previous_cluster_id=clusters["customer_key"].map(mapping))


def stability_ari(clusters: pd.DataFrame) -> float | None:
    """Adjusted Rand index between this run and the previous one, over customers in both."""
    both = clusters.dropna(subset=["previous_cluster_id"])
    if len(both) < 2:
        return None
    return float(
        adjusted_rand_score(both["previous_cluster_id"].astype(int), both["cluster_id"].astype(int))
    )


def cluster_profiles(
    clusters: pd.DataFrame, features: pd.DataFrame, as_of_date: str
) -> pd.DataFrame:
    """One row per cluster: persona, size, share, mean raw features, run-level ARI."""
    if clusters.empty:
        logger.warning("cluster profiles empty: customer_clusters has no clusters")
        return pd.DataFrame(columns=list(PROFILES_SCHEMA))
    joined = clusters.join(features.reindex(columns=list(FEATURES)), on="customer_key")
    grouped = joined.groupby(["cluster_id", "persona"])
    profiles = grouped[list(FEATURES)].mean().add_prefix("mean_").reset_index()
    profiles["n_customers"] = grouped.size().to_numpy()
    profiles["customer_share"] = profiles["n_customers"] / len(clusters)
    profiles["ari_vs_previous_run"] = stability_ari(clusters)
    profiles["as_of_date"] = as_of_date
    return profiles[list(PROFILES_SCHEMA)]


# What the dbt models read from customer_features: buyers' clustering features.
FEATURE_COLUMNS = "customer_key, " + ", ".join(FEATURES)
BUYERS_FILTER = "not is_prospect"


def diagnostics_table(
    features: pd.DataFrame, as_of_date: str, settings: ClusterSettings
) -> pd.DataFrame:
    """DIAGNOSTICS_SCHEMA rows of the k sweep; none for degenerate data (with a warning)."""
    prepared = prepare_features(features)
    if prepared is None:
        return pd.DataFrame(columns=list(DIAGNOSTICS_SCHEMA))
    diagnostics = sweep_k(prepared, settings)
    diagnostics["refit_key"] = sweep_refit_key(as_of_date, settings)
    diagnostics["swept_as_of_date"] = as_of_date
    diagnostics["as_of_date"] = as_of_date
    return diagnostics.reindex(columns=list(DIAGNOSTICS_SCHEMA))


def clusters_table(
    features: pd.DataFrame,
    diagnostics: pd.DataFrame,
    previous: pd.DataFrame | None,
    as_of_date: str,
    settings: ClusterSettings,
) -> pd.DataFrame:
    """CLUSTERS_SCHEMA rows at the k chosen in `diagnostics`; none when nothing was chosen."""
    chosen = diagnostics.loc[diagnostics["is_chosen"].astype(bool), "k"] if len(diagnostics) else []
    if not len(chosen):
        logger.warning("clusters not computed: cluster_diagnostics chose no k")
    prepared = prepare_features(features) if len(chosen) else None
    if prepared is None:
        return pd.DataFrame(columns=list(CLUSTERS_SCHEMA))
    clusters, _ = assign_clusters(prepared, int(chosen.iloc[0]), settings)
    clusters = with_previous_run(clusters, previous)
    clusters["as_of_date"] = as_of_date
    return clusters[list(CLUSTERS_SCHEMA)]
