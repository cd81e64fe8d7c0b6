"""Lookalikes: ranking by cosine similarity to the seed centroid, top-N flag, degenerate seeds."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from segwarehouse.ml.clustering import FEATURES
from segwarehouse.ml.lookalike import LOOKALIKE_SCHEMA, lookalike_scores


def customers(seed: int = 0) -> pd.DataFrame:
    """Big spenders (the seed), customers like them, and customers unlike them."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(1, 5, (90, len(FEATURES)))
    base[:30] += 20  # seed members
    base[30:40] += 19  # lookalikes
    frame = pd.DataFrame(base, columns=list(FEATURES))
    frame.index = pd.Index([f"c{i:03d}" for i in range(90)], name="customer_key")
    return frame


def test_lookalikes_rank_the_similar_customers_first() -> None:
    features = customers()
    members = set(features.index[:30])
    scores = lookalike_scores(features, members, "rfm_champions", 10, "2026-06-30")
    assert list(scores.columns) == list(LOOKALIKE_SCHEMA)
    assert len(scores) == 60 and not set(scores["customer_key"]) & members
    assert set(scores.loc[scores["is_top_n"], "customer_key"]) == set(features.index[30:40])
    assert list(scores["similarity_rank"]) == list(range(1, 61))
    assert scores["similarity"].is_monotonic_decreasing
    assert scores["similarity"].between(-1, 1).all()
    assert (scores["seed_members"] == 30).all()


@pytest.mark.parametrize(
    ("features", "members"),
    [
        (customers(), set()),  # empty seed segment
        (customers(), set(customers().index)),  # everyone is in the seed
        (pd.DataFrame(columns=list(FEATURES)), {"x"}),  # no buyers
        (pd.DataFrame({f: [1.0] * 40 for f in FEATURES}), {"c0"}),  # constant features
    ],
    ids=["empty seed", "everyone in the seed", "no buyers", "constant features"],
)
def test_degenerate_seeds_give_no_rows(
    features: pd.DataFrame, members: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    if not isinstance(features.index, pd.Index) or features.index.name != "customer_key":
        features.index = pd.Index([f"c{i}" for i in range(len(features))], name="customer_key")
    with caplog.at_level(logging.WARNING):
        scores = lookalike_scores(features, members, "rfm_champions", 10, "2026-06-30")
    assert scores.empty and list(scores.columns) == list(LOOKALIKE_SCHEMA)
    assert "not computed" in caplog.text
