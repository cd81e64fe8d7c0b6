"""Lookalikes of a seed segment: buyers outside it ranked by cosine similarity to its centroid.

Features are the behavioural ones of the clustering (segwarehouse.ml.clustering.FEATURES),
prepared the same way (log1p where skewed, median-imputed, constant ones dropped,
standardised over all buyers), so similarity is measured in one scale-free space.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from segwarehouse.ml.clustering import prepare_features

logger = logging.getLogger("segwarehouse.ml.lookalike")

LOOKALIKE_SCHEMA = {
    "customer_key": "varchar",
    "seed_segment_id": "varchar",
    "similarity": "double",
    "similarity_rank": "integer",
    "is_top_n": "boolean",
    "seed_members": "integer",
    "as_of_date": "date",
}


def lookalike_scores(
    features: pd.DataFrame,
    members: set[str],
    seed_segment_id: str,
    top_n: int,
    as_of_date: str,
) -> pd.DataFrame:
    """One row per buyer outside the seed segment (LOOKALIKE_SCHEMA), rank 1 = most similar.

    `features` is indexed by customer_key (buyers). No rows, with a warning, when the seed has
    no member among them, nobody is outside it, or the features cannot be prepared.
    """
    prepared = prepare_features(features)
    in_seed = (
        np.asarray(prepared.keys.isin(list(members))) if prepared is not None else np.array([])
    )
    if prepared is None or not in_seed.any() or in_seed.all():
        logger.warning(
            "lookalikes not computed for %s: %d seed members among %d buyers",
            seed_segment_id,
            int(in_seed.sum()),
            len(features),
        )
        return pd.DataFrame(columns=list(LOOKALIKE_SCHEMA))
    centroid = prepared.matrix[in_seed].mean(axis=0)
    candidates = prepared.matrix[~in_seed]
    norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(centroid)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(norms > 0, candidates @ centroid / norms, 0.0)
    scores = pd.DataFrame(
        {"customer_key": prepared.keys[~in_seed], "similarity": np.clip(similarity, -1.0, 1.0)}
    ).sort_values(["similarity", "customer_key"], ascending=[False, True], kind="stable")
    scores["similarity_rank"] = np.arange(1, len(scores) + 1)
    scores["is_top_n"] = scores["similarity_rank"] <= top_n
    scores["seed_segment_id"] = seed_segment_id
    scores["seed_members"] = int(in_seed.sum())
    scores["as_of_date"] = as_of_date
    return scores[list(LOOKALIKE_SCHEMA)].reset_index(drop=True)
