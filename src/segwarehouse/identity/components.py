"""Connected components of the identity graph, with a cap on component size.

The graph is small enough in memory at the scale this project targets (millions of nodes and
edges fit in a few hundred MB as integer arrays), and scipy's union-find style traversal is far
faster than iterating SQL label propagation (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

NODE_COLUMNS = ("node_id",)
EDGE_COLUMNS = ("node_id_a", "node_id_b", "match_method", "first_record_type")

# Edges asserted by a CRM record (one customer record carrying several identifiers) survive
# the first round of cutting an oversized component; links seen only in orders, web events or
# campaign rows do not.
TRUSTED_RECORD_TYPES = frozenset({"crm_customer"})


def label_components(node_count: int, edges_a: np.ndarray, edges_b: np.ndarray) -> np.ndarray:
    """Component label per node index (0..node_count-1) for undirected index-pair edges."""
    if node_count == 0:
        return np.zeros(0, dtype=np.int64)
    weights = np.ones(len(edges_a), dtype=np.int8)
    graph = coo_matrix((weights, (edges_a, edges_b)), shape=(node_count, node_count)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def resolve_components(nodes: pd.DataFrame, edges: pd.DataFrame, max_size: int) -> pd.DataFrame:
    """Connected components of `nodes` linked by `edges`, no component larger than `max_size`.

    An oversized component first loses its untrusted links (those not asserted by a CRM
    record) and is recomputed; what is still oversized loses all its links (each node stands
    alone). Precision over recall: a missed merge is cheaper than merging strangers.

    Returns one row per node: node_id, component_id, deterministic_component_id (the part of
    its component reachable through deterministic edges alone), and the uncapped_component_id /
    uncapped_component_size it would have had without the cap (for the resolution report).
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, got {max_size}")
    node_ids = pd.Index(nodes["node_id"].astype(str).unique())
    edges = edges[edges["node_id_a"].isin(node_ids) & edges["node_id_b"].isin(node_ids)]
    edge_a = node_ids.get_indexer(edges["node_id_a"].astype(str))
    edge_b = node_ids.get_indexer(edges["node_id_b"].astype(str))
    deterministic = edges["match_method"].to_numpy() == "deterministic"
    trusted = edges["first_record_type"].isin(TRUSTED_RECORD_TYPES).to_numpy() & deterministic

    uncapped = label_components(len(node_ids), edge_a, edge_b)
    uncapped_sizes = np.bincount(uncapped)
    labels = _cap(len(node_ids), edge_a, edge_b, trusted, uncapped, max_size)
    # Within a final component, the part reachable through deterministic edges alone: nodes
    # outside the key's part joined only through a probabilistic link.
    same_final = labels[edge_a] == labels[edge_b]
    deterministic_labels = label_components(
        len(node_ids), edge_a[deterministic & same_final], edge_b[deterministic & same_final]
    )
    return pd.DataFrame(
        {
            "node_id": node_ids.to_numpy(dtype=object),
            "component_id": labels,
            "deterministic_component_id": deterministic_labels,
            "uncapped_component_id": uncapped,
            "uncapped_component_size": uncapped_sizes[uncapped],
        }
    )


def _cap(
    node_count: int,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    trusted: np.ndarray,
    labels: np.ndarray,
    max_size: int,
) -> np.ndarray:
    """Labels after cutting oversized components: untrusted links first, then all links."""
    oversized = _oversized_edges(labels, edge_a, max_size)
    if not oversized.any():
        return labels
    keep = ~oversized | trusted
    labels = label_components(node_count, edge_a[keep], edge_b[keep])
    still_oversized = _oversized_edges(labels, edge_a[keep], max_size)
    if not still_oversized.any():
        return labels
    kept_a, kept_b = edge_a[keep][~still_oversized], edge_b[keep][~still_oversized]
    return label_components(node_count, kept_a, kept_b)


def _oversized_edges(labels: np.ndarray, edge_a: np.ndarray, max_size: int) -> np.ndarray:
    """Mask of the edges that lie in a component larger than max_size."""
    if len(labels) == 0:
        return np.zeros(len(edge_a), dtype=bool)
    sizes = np.bincount(labels)
    return sizes[labels[edge_a]] > max_size
