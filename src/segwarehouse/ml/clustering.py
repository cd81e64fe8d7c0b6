"""Behavioural clusters of buyers: K-Means, Ward and DBSCAN compared, personas, stable ids.

Features come from customer_features (buyers only). Skewed non-negative features (sample
skewness above SKEW_THRESHOLD) are log1p-transformed, missing values take the median, constant
features are dropped, and the rest are standardised.

cluster_diagnostics compares three methods on the same prepared features (rows per method and
k): K-Means for every k in the range (on the sweep sample), Ward's hierarchical clustering cut
at every k and DBSCAN (one row: the k it finds, its noise share), both on a smaller seeded
comparison sample (Ward needs memory quadratic in the rows). Each row records inertia (within-
cluster sum of squares), the silhouette (seeded sample) and the Davies-Bouldin index.

Choice of k (K-Means and Ward; `choose_k`): the silhouette decides. Every k whose silhouette is
within `silhouette_tolerance` of the best is taken as equally good, and of those the lowest
Davies-Bouldin index wins (then the smaller k). Inertia and its drop from k - 1 (the elbow) are
recorded for reading only: they do not take part. DBSCAN chooses its own k. The method that
customer_clusters publishes is var ml__cluster_method; only its chosen row has is_chosen.

Cluster ids are stable across runs (`match_previous_ids`): the previous build's clusters are
turned into centroids on today's standardised features (the mean of their members who are
still buyers), and today's clusters are matched to them by the Hungarian algorithm on centroid
distance; a matched cluster keeps the previous id, an unmatched one takes a new id above every
previous one. cluster_profiles records the adjusted Rand index against the previous run and
flags it when it falls below var ml__cluster_stability_alert_below.

Every random choice is seeded, so the same data gives the same clusters. The sweep is model
selection: it runs on the first build of a retrain period (var ml__retrain_every_days) and is
kept for the rest of it (sweep_refit_key); the final fit of the chosen method runs on every
build.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from segwarehouse.ml.model_cache import model_version, retrain_anchor

logger = logging.getLogger("segwarehouse.ml.clustering")

SKEW_THRESHOLD = 1.0
MIN_CUSTOMERS = 20
METHODS = ("kmeans", "ward", "dbscan")
# The dbt model config keys fit_settings_from reads (customer_clusters' final fit) and those
# settings_from reads (cluster_diagnostics' sweep); python_models/marts/ml/_ml__models.yml.
FIT_CONFIG_KEYS = ("method", "comparison_sample_size", "dbscan_min_samples", "random_seed")
CONFIG_KEYS = (
    "k_min",
    "k_max",
    "silhouette_sample_size",
    "silhouette_tolerance",
    "sweep_sample_size",
    "retrain_every_days",
    *FIT_CONFIG_KEYS,
)
# DBSCAN's noise points: customers in no dense region.
NOISE_ID = -1
NOISE_PERSONA = "Unclustered (DBSCAN noise)"
# DBSCAN's eps: this quantile of every point's distance to its min_samples-th neighbour.
DBSCAN_EPS_QUANTILE = 0.9

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
    "method": "varchar",
    "k": "integer",
    "inertia": "double",
    "inertia_drop_share": "double",
    "silhouette": "double",
    "davies_bouldin": "double",
    "noise_share": "double",
    "is_candidate": "boolean",
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
    "stability_alert_below": "double",
    "is_stability_alert": "boolean",
    "as_of_date": "date",
}


@dataclass(frozen=True)
class ClusterFitSettings:
    """What the final fit of customer_clusters reads (vars ml__cluster_method,
    _comparison_sample_size, _dbscan_min_samples and ml__random_seed)."""

    # What customer_clusters publishes: kmeans, ward or dbscan.
    method: str = "kmeans"
    seed: int = 42
    # Ward and DBSCAN fit on a seeded sample of at most this many buyers (Ward's linkage needs
    # memory quadratic in it); every buyer then takes the nearest cluster (see final_labels).
    comparison_sample_size: int = 5000
    # DBSCAN: a core point has at least this many neighbours within eps.
    dbscan_min_samples: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"var ml__cluster_method is {self.method!r}: use one of {', '.join(METHODS)}"
            )


@dataclass(frozen=True)
class ClusterSettings(ClusterFitSettings):
    """What cluster_diagnostics' sweep reads: the final fit's settings, the k range, sample
    sizes, the selection tolerance and the retrain period (vars ml__cluster_*)."""

    k_min: int = 2
    k_max: int = 8
    silhouette_sample_size: int = 2000
    # The K-Means k sweep (7 fits with 10 starts each, and Davies-Bouldin) runs on a seeded
    # sample of at most this many buyers; customer_clusters' K-Means fit uses every buyer.
    sweep_sample_size: int = 200_000
    # The sweep is kept for a retrain period of this many days (segwarehouse.ml.model_cache).
    retrain_every_days: int = 7
    # Silhouettes within this of the best count as equal; the lowest Davies-Bouldin wins.
    silhouette_tolerance: float = 0.02


def _require(config: Mapping[str, object], keys: tuple[str, ...]) -> None:
    """A missing config value is an error naming it (the model reads each var with a literal
    dbt.config.get, which is how dbt passes it)."""
    missing = [key for key in keys if config.get(key) in (None, "", "None")]
    if missing:
        raise ValueError(
            f"cluster model config lacks {', '.join(missing)}: set the ml__cluster_* vars in "
            "dbt_project.yml and read each in the model with dbt.config.get"
        )


def _fit_fields(config: Mapping[str, object]) -> dict[str, Any]:
    return {
        "method": str(config["method"]).strip().lower(),
        "seed": int(str(config["random_seed"])),
        "comparison_sample_size": int(str(config["comparison_sample_size"])),
        "dbscan_min_samples": int(str(config["dbscan_min_samples"])),
    }


def fit_settings_from(config: Mapping[str, object]) -> ClusterFitSettings:
    """ClusterFitSettings from customer_clusters' config (FIT_CONFIG_KEYS only)."""
    _require(config, FIT_CONFIG_KEYS)
    return ClusterFitSettings(**_fit_fields(config))


def settings_from(config: Mapping[str, object]) -> ClusterSettings:
    """ClusterSettings from cluster_diagnostics' config (the ml__cluster_* vars set in
    _ml__models.yml, CONFIG_KEYS). A missing value is an error naming the var."""
    _require(config, CONFIG_KEYS)
    return ClusterSettings(
        **_fit_fields(config),
        k_min=int(str(config["k_min"])),
        k_max=int(str(config["k_max"])),
        silhouette_sample_size=int(str(config["silhouette_sample_size"])),
        sweep_sample_size=int(str(config["sweep_sample_size"])),
        retrain_every_days=int(str(config["retrain_every_days"])),
        silhouette_tolerance=float(str(config["silhouette_tolerance"])),
    )


# Part of the sweep's refit_key: bump it when the sweep or the feature preparation changes.
SWEEP_REVISION = 2


def sweep_refit_key(as_of_date: str, settings: ClusterSettings) -> str:
    """What decides whether cluster_diagnostics sweeps again: the retrain anchor of
    as_of_date, the settings, SWEEP_REVISION and the library versions."""
    anchor = retrain_anchor(as_of_date, settings.retrain_every_days)
    return model_version([], "kmeans_sweep", SWEEP_REVISION, FEATURES, settings, anchor)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """All n row numbers when n <= size, else a seeded sample of `size`, ascending."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


def sweep_rows(n: int, settings: ClusterSettings) -> np.ndarray:
    """Row numbers the K-Means k sweep fits on (at most sweep_sample_size)."""
    return sample_rows(n, settings.sweep_sample_size, settings.seed)


def comparison_rows(n: int, settings: ClusterFitSettings) -> np.ndarray:
    """Row numbers Ward and DBSCAN fit on (at most comparison_sample_size)."""
    return sample_rows(n, settings.comparison_sample_size, settings.seed)


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


def within_cluster_ss(matrix: np.ndarray, labels: np.ndarray) -> float:
    """Sum of squared distances of the clustered (non-noise) rows to their cluster mean."""
    total = 0.0
    for label in np.unique(labels[labels != NOISE_ID]):
        members = matrix[labels == label]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def score_labels(
    matrix: np.ndarray, labels: np.ndarray, settings: ClusterSettings
) -> dict[str, float | int | None]:
    """k, inertia, silhouette (seeded sample), Davies-Bouldin and noise share of a labelling;
    the scores are over non-noise rows and null when fewer than 2 clusters remain."""
    clustered = labels != NOISE_ID
    k = len(np.unique(labels[clustered]))
    row: dict[str, float | int | None] = {
        "k": k,
        "inertia": within_cluster_ss(matrix, labels),
        "silhouette": None,
        "davies_bouldin": None,
        "noise_share": float(1 - clustered.mean()),
    }
    if 2 <= k < clustered.sum():
        sample = min(settings.silhouette_sample_size, int(clustered.sum()))
        row["silhouette"] = float(
            silhouette_score(
                matrix[clustered],
                labels[clustered],
                sample_size=sample,
                random_state=settings.seed,
            )
        )
        row["davies_bouldin"] = float(davies_bouldin_score(matrix[clustered], labels[clustered]))
    return row


def k_range(matrix: np.ndarray, settings: ClusterSettings) -> range:
    """k_min..k_max, capped below the number of distinct rows."""
    distinct = len(np.unique(matrix, axis=0))
    return range(settings.k_min, min(settings.k_max, distinct - 1, len(matrix) - 1) + 1)


def kmeans_labels(matrix: np.ndarray, k: int, settings: ClusterFitSettings) -> np.ndarray:
    """Seeded K-Means (10 starts) labels."""
    return KMeans(n_clusters=k, n_init=10, random_state=settings.seed).fit(matrix).labels_


def ward_labels_by_k(matrix: np.ndarray, ks: range) -> dict[int, np.ndarray]:
    """Ward's linkage built once and cut at every k (labels from 0)."""
    tree = linkage(matrix, method="ward")
    return {k: fcluster(tree, t=k, criterion="maxclust") - 1 for k in ks}


def dbscan_eps(matrix: np.ndarray, settings: ClusterFitSettings) -> float:
    """DBSCAN's radius: the DBSCAN_EPS_QUANTILE of the distance to the min_samples-th
    neighbour, so about that share of the rows could be core points."""
    neighbours = min(settings.dbscan_min_samples, len(matrix) - 1)
    distances, _ = NearestNeighbors(n_neighbors=neighbours + 1).fit(matrix).kneighbors(matrix)
    return float(max(np.quantile(distances[:, -1], DBSCAN_EPS_QUANTILE), 1e-9))


def dbscan_model(matrix: np.ndarray, settings: ClusterFitSettings) -> DBSCAN:
    """DBSCAN fitted at dbscan_eps; labels_ -1 = noise."""
    eps = dbscan_eps(matrix, settings)
    return DBSCAN(eps=eps, min_samples=settings.dbscan_min_samples).fit(matrix)


def method_rows(matrix: np.ndarray, settings: ClusterSettings) -> pd.DataFrame:
    """Scored labellings of every method: K-Means on the sweep sample, Ward per k and DBSCAN
    on the comparison sample."""
    n = len(matrix)
    sweep = matrix[sweep_rows(n, settings)]
    compare = matrix[comparison_rows(n, settings)]
    rows = []
    with threadpool_limits(1):
        for k in k_range(sweep, settings):
            labels = kmeans_labels(sweep, k, settings)
            rows.append({"method": "kmeans", **score_labels(sweep, labels, settings)})
            rows[-1]["sweep_sample_size"] = len(sweep)
        ks = k_range(compare, settings)
        for labels in ward_labels_by_k(compare, ks).values() if len(ks) else []:
            rows.append({"method": "ward", **score_labels(compare, labels, settings)})
            rows[-1]["sweep_sample_size"] = len(compare)
        if len(ks):
            labels = dbscan_model(compare, settings).labels_
            rows.append({"method": "dbscan", **score_labels(compare, labels, settings)})
            rows[-1]["sweep_sample_size"] = len(compare)
    columns = ["method", "k", "inertia", "silhouette", "davies_bouldin", "noise_share"]
    frame = pd.DataFrame(rows, columns=[*columns, "sweep_sample_size"])
    # A Ward cut can give fewer than k clusters (tied merge heights): keep one row per k.
    return frame.drop_duplicates(["method", "k"]).reset_index(drop=True)


def choose_k(rows: pd.DataFrame, tolerance: float) -> tuple[pd.Series, pd.Series]:
    """(is_candidate, is_chosen) over one method's rows: candidates have a silhouette within
    `tolerance` of the best; the chosen one has the lowest Davies-Bouldin of them, then the
    smaller k. Rows without a silhouette are never candidates."""
    scored = rows["silhouette"].notna() & rows["davies_bouldin"].notna()
    best = rows.loc[scored, "silhouette"].max()
    candidate = scored & (rows["silhouette"] >= best - tolerance)
    chosen = pd.Series(False, index=rows.index)
    if candidate.any():
        order = rows[candidate].sort_values(["davies_bouldin", "k"], kind="stable")
        chosen[order.index[0]] = True
    return candidate, chosen


def sweep_k(prepared: PreparedFeatures, settings: ClusterSettings) -> pd.DataFrame:
    """Every method's rows with the elbow, candidates and the chosen row of ml__cluster_method."""
    diagnostics = method_rows(prepared.matrix, settings)
    if not (diagnostics["method"] == "kmeans").any():
        logger.warning("clusters not computed: fewer than %d distinct customers", settings.k_min)
        return diagnostics.assign(is_candidate=False, is_chosen=False).iloc[0:0]
    previous = diagnostics.groupby("method")["inertia"].shift(1)
    diagnostics["inertia_drop_share"] = 1 - diagnostics["inertia"] / previous
    diagnostics.loc[diagnostics["method"] == "dbscan", "inertia_drop_share"] = None
    diagnostics["is_candidate"] = False
    diagnostics["is_chosen"] = False
    for method, rows in diagnostics.groupby("method"):
        candidate, chosen = choose_k(rows, settings.silhouette_tolerance)
        diagnostics.loc[rows.index, "is_candidate"] = candidate
        diagnostics.loc[rows.index, "is_chosen"] = chosen & (method == settings.method)
    diagnostics["n_customers"] = len(prepared.keys)
    diagnostics["silhouette_sample_size"] = np.minimum(
        settings.silhouette_sample_size, diagnostics["sweep_sample_size"]
    )
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


def nearest_centroid_labels(
    matrix: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray
) -> np.ndarray:
    """Every row's label: the nearest centroid of the sample's clusters."""
    ids = np.unique(sample_labels)
    centroids = np.vstack([sample[sample_labels == label].mean(axis=0) for label in ids])
    return ids[cdist(matrix, centroids).argmin(axis=1)]


def nearest_core_labels(matrix: np.ndarray, model: DBSCAN) -> np.ndarray:
    """Every row's DBSCAN label: that of its nearest core point when within eps, else noise."""
    if not len(model.core_sample_indices_):
        return np.full(len(matrix), NOISE_ID)
    cores = model.components_
    core_labels = model.labels_[model.core_sample_indices_]
    distances, nearest = NearestNeighbors(n_neighbors=1).fit(cores).kneighbors(matrix)
    return np.where(distances[:, 0] <= model.eps, core_labels[nearest[:, 0]], NOISE_ID)


def final_labels(matrix: np.ndarray, k: int, settings: ClusterFitSettings) -> np.ndarray:
    """Labels of every row by ml__cluster_method: K-Means on all rows; Ward cut at k on the
    comparison sample, then the nearest Ward centroid; DBSCAN on the comparison sample, then
    the nearest core point within eps (else noise)."""
    if settings.method == "kmeans":
        return kmeans_labels(matrix, k, settings)
    sample = matrix[comparison_rows(len(matrix), settings)]
    if settings.method == "ward":
        return nearest_centroid_labels(matrix, sample, ward_labels_by_k(sample, range(k, k + 1))[k])
    return nearest_core_labels(matrix, dbscan_model(sample, settings))


def centroids_of(matrix: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Mean row of every non-noise label."""
    return {
        int(label): matrix[labels == label].mean(axis=0)
        for label in np.unique(labels)
        if label != NOISE_ID
    }


def size_order(labels: np.ndarray, centroids: dict[int, np.ndarray]) -> list[int]:
    """Labels by size, largest first (ties: the centroid's coordinates)."""
    sizes = {label: int((labels == label).sum()) for label in centroids}
    return sorted(centroids, key=lambda label: (-sizes[label], tuple(centroids[label])))


def match_previous_ids(
    centroids: dict[int, np.ndarray],
    previous_centroids: dict[int, np.ndarray],
    order: list[int],
) -> dict[int, int]:
    """New label -> published cluster id. Without a previous run: position in `order` (0 = the
    largest). Otherwise the Hungarian algorithm (scipy linear_sum_assignment) pairs today's
    centroids with the previous run's at the least total Euclidean distance; a paired label
    keeps the previous id, the others take ids above every previous one, in `order`."""
    if not previous_centroids:
        return {label: position for position, label in enumerate(order)}
    labels = list(centroids)
    previous_ids = sorted(previous_centroids)
    cost = cdist(
        np.vstack([centroids[label] for label in labels]),
        np.vstack([previous_centroids[cid] for cid in previous_ids]),
    )
    rows, cols = linear_sum_assignment(cost)
    mapping = {labels[r]: previous_ids[c] for r, c in zip(rows, cols, strict=True)}
    next_id = max(previous_ids) + 1
    for label in order:
        if label not in mapping:
            mapping[label] = next_id
            next_id += 1
    return mapping


def previous_centroids_of(prepared: PreparedFeatures, previous: pd.DataFrame | None) -> dict:
    """The previous run's clusters as centroids on today's standardised features: the mean
    of their members who are still buyers (noise left out)."""
    if previous is None or previous.empty:
        return {}
    ids = previous.set_index("customer_key")["cluster_id"].reindex(prepared.keys)
    known = ids.notna().to_numpy()
    return centroids_of(prepared.matrix[known], ids[known].astype(int).to_numpy())


def assign_clusters(
    prepared: PreparedFeatures,
    k: int,
    settings: ClusterFitSettings,
    previous: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """cluster_id (matched to `previous`, see match_previous_ids), persona and 2-D PCA
    coordinates per customer; DBSCAN's noise is cluster NOISE_ID."""
    with threadpool_limits(1):
        raw = final_labels(prepared.matrix, k, settings)
        components = min(2, prepared.matrix.shape[1])
        coordinates = PCA(n_components=components, random_state=settings.seed).fit_transform(
            prepared.matrix
        )
    centroids = centroids_of(prepared.matrix, raw)
    order = size_order(raw, centroids)
    mapping = match_previous_ids(centroids, previous_centroids_of(prepared, previous), order)
    named = personas(pd.DataFrame([centroids[c] for c in order], columns=prepared.columns))
    names = dict(zip(order, named, strict=True))
    names[NOISE_ID] = NOISE_PERSONA
    mapping[NOISE_ID] = NOISE_ID
    result = pd.DataFrame(
        {
            "customer_key": prepared.keys,
            "cluster_id": [mapping[int(label)] for label in raw],
            "persona": [names[int(label)] for label in raw],
            "pca_1": coordinates[:, 0],
            "pca_2": coordinates[:, 1] if components > 1 else 0.0,
        }
    )
    return result, [names[label] for label in order]


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


def is_stability_alert(ari: float | None, alert_below: float) -> bool:
    """True when the ARI against the previous run is below the threshold (never on a first
    run, when there is no ARI)."""
    return ari is not None and ari < alert_below


def cluster_profiles(
    clusters: pd.DataFrame,
    features: pd.DataFrame,
    as_of_date: str,
    stability_alert_below: float = 0.8,
) -> pd.DataFrame:
    """One row per cluster: persona, size, share, mean raw features, run-level ARI and its
    alert (is_stability_alert, the same on every row; logged as a warning)."""
    if clusters.empty:
        logger.warning("cluster profiles empty: customer_clusters has no clusters")
        return pd.DataFrame(columns=list(PROFILES_SCHEMA))
    joined = clusters.join(features.reindex(columns=list(FEATURES)), on="customer_key")
    grouped = joined.groupby(["cluster_id", "persona"])
    profiles = grouped[list(FEATURES)].mean().add_prefix("mean_").reset_index()
    profiles["n_customers"] = grouped.size().to_numpy()
    profiles["customer_share"] = profiles["n_customers"] / len(clusters)
    ari = stability_ari(clusters)
    alert = is_stability_alert(ari, stability_alert_below)
    if alert:
        logger.warning(
            "clusters unstable: adjusted Rand index %.3f against the previous run is below "
            "var ml__cluster_stability_alert_below (%.3f)",
            ari,
            stability_alert_below,
        )
    profiles["ari_vs_previous_run"] = ari
    profiles["stability_alert_below"] = stability_alert_below
    profiles["is_stability_alert"] = alert
    profiles["as_of_date"] = as_of_date
    return profiles[list(PROFILES_SCHEMA)]


# What the dbt models read from customer_features: buyers' clustering features.
FEATURE_COLUMNS = "customer_key, " + ", ".join(FEATURES)
BUYERS_FILTER = "not is_prospect"


def diagnostics_table(
    features: pd.DataFrame, as_of_date: str, settings: ClusterSettings
) -> pd.DataFrame:
    """DIAGNOSTICS_SCHEMA rows of the comparison; none for degenerate data (with a warning)."""
    prepared = prepare_features(features)
    if prepared is None:
        return pd.DataFrame(columns=list(DIAGNOSTICS_SCHEMA))
    diagnostics = sweep_k(prepared, settings)
    diagnostics["refit_key"] = sweep_refit_key(as_of_date, settings)
    diagnostics["swept_as_of_date"] = as_of_date
    diagnostics["as_of_date"] = as_of_date
    return diagnostics.reindex(columns=list(DIAGNOSTICS_SCHEMA))


def chosen_k(diagnostics: pd.DataFrame, settings: ClusterFitSettings) -> int | None:
    """The k of the chosen row of ml__cluster_method, or None (with a warning)."""
    if not len(diagnostics):
        logger.warning("clusters not computed: cluster_diagnostics chose no k")
        return None
    chosen = diagnostics[
        diagnostics["is_chosen"].astype(bool) & (diagnostics["method"] == settings.method)
    ]
    if not len(chosen):
        logger.warning(
            "clusters not computed: cluster_diagnostics chose no k for method %s "
            "(DBSCAN found fewer than 2 clusters, or the data cannot be clustered)",
            settings.method,
        )
        return None
    return int(chosen["k"].iloc[0])


def clusters_table(
    features: pd.DataFrame,
    diagnostics: pd.DataFrame,
    previous: pd.DataFrame | None,
    as_of_date: str,
    settings: ClusterFitSettings,
) -> pd.DataFrame:
    """CLUSTERS_SCHEMA rows of ml__cluster_method at its chosen k; none when nothing was
    chosen. Ids are matched to `previous` (customer_key, cluster_id of the previous build)."""
    k = chosen_k(diagnostics, settings)
    prepared = prepare_features(features) if k is not None else None
    if prepared is None or k is None:
        return pd.DataFrame(columns=list(CLUSTERS_SCHEMA))
    clusters, _ = assign_clusters(prepared, k, settings, previous)
    clusters = with_previous_run(clusters, previous)
    clusters["as_of_date"] = as_of_date
    return clusters[list(CLUSTERS_SCHEMA)]
