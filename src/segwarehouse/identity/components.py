"""Connected components of the identity graph, with a cap on component size.

Node ids are numbered inside DuckDB and only integer arrays cross into Python: scipy's
traversal then takes well under a second for millions of nodes, and the string handling that
dominates a pandas implementation never happens (see docs/benchmarks.md for the comparison
with iterative SQL label propagation).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Edges asserted by a CRM record (one customer record carrying several identifiers) survive
# the first round of cutting an oversized component; links seen only in orders, web events or
# campaign rows, and probabilistic links, do not.
TRUSTED_RECORD_TYPES = ("crm_customer",)


@dataclass(frozen=True)
class ComponentLabels:
    """Per node index: final component, deterministic part, and the uncapped component."""

    component_id: np.ndarray
    deterministic_component_id: np.ndarray
    uncapped_component_id: np.ndarray
    uncapped_component_size: np.ndarray


def label_components(node_count: int, edges_a: np.ndarray, edges_b: np.ndarray) -> np.ndarray:
    """Component label per node index (0..node_count-1) for undirected index-pair edges."""
    if node_count == 0:
        return np.zeros(0, dtype=np.int64)
    weights = np.ones(len(edges_a), dtype=np.int8)
    graph = coo_matrix((weights, (edges_a, edges_b)), shape=(node_count, node_count)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def resolve_component_labels(
    node_count: int,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    deterministic: np.ndarray,
    trusted: np.ndarray,
    max_size: int,
) -> ComponentLabels:
    """Components of nodes 0..node_count-1, none larger than `max_size`.

    An oversized component first loses its untrusted links (`trusted` false) and is
    recomputed; what is still oversized loses all its links (each node stands alone).
    Precision over recall: a missed merge is cheaper than merging strangers.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, got {max_size}")
    uncapped = label_components(node_count, edge_a, edge_b)
    labels = _cap(node_count, edge_a, edge_b, trusted, uncapped, max_size)
    # The part of a final component reachable through deterministic edges alone: nodes
    # outside the key's part joined the customer only through a probabilistic link.
    kept = deterministic & (labels[edge_a] == labels[edge_b]) if len(edge_a) else deterministic
    return ComponentLabels(
        component_id=labels,
        deterministic_component_id=label_components(node_count, edge_a[kept], edge_b[kept]),
        uncapped_component_id=uncapped,
        uncapped_component_size=np.bincount(uncapped)[uncapped] if node_count else uncapped,
    )


def resolve_components_in_duckdb(
    con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_sql: str, max_size: int
) -> duckdb.DuckDBPyRelation:
    """Components of the graph given by two queries, as a relation on `con`.

    `nodes_sql` yields node_id; `edges_sql` yields node_id_a, node_id_b, match_method,
    first_record_type (edges to unknown nodes are ignored). The result has node_id,
    component_id, deterministic_component_id, uncapped_component_id, uncapped_component_size.
    """
    con.execute(
        "create or replace temp table identity_component_nodes as "
        "select node_id, cast(row_number() over (order by node_id) - 1 as bigint) as node_index "
        f"from (select distinct node_id from ({nodes_sql}))"
    )
    trusted_types = ", ".join(f"'{record_type}'" for record_type in TRUSTED_RECORD_TYPES)
    edges = con.execute(
        f"""
        select
            a.node_index as edge_a,
            b.node_index as edge_b,
            e.match_method = 'deterministic' as is_deterministic,
            e.match_method = 'deterministic' and e.first_record_type in ({trusted_types})
                as is_trusted
        from ({edges_sql}) as e
        inner join identity_component_nodes as a on e.node_id_a = a.node_id
        inner join identity_component_nodes as b on e.node_id_b = b.node_id
        """
    ).fetchnumpy()
    node_count = con.execute("select count(*) from identity_component_nodes").fetchall()[0][0]
    labels = resolve_component_labels(
        int(node_count),
        np.asarray(edges["edge_a"], dtype=np.int64),
        np.asarray(edges["edge_b"], dtype=np.int64),
        np.asarray(edges["is_deterministic"], dtype=bool),
        np.asarray(edges["is_trusted"], dtype=bool),
        max_size,
    )
    frame = pd.DataFrame(
        {
            "node_index": np.arange(node_count, dtype=np.int64),
            "component_id": labels.component_id,
            "deterministic_component_id": labels.deterministic_component_id,
            "uncapped_component_id": labels.uncapped_component_id,
            "uncapped_component_size": labels.uncapped_component_size,
        }
    )
    con.register("identity_component_labels", frame)
    return con.sql(
        "select nodes.node_id, labels.* exclude (node_index) "
        "from identity_component_nodes as nodes "
        "inner join identity_component_labels as labels using (node_index)"
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
    if len(labels) == 0 or len(edge_a) == 0:
        return np.zeros(len(edge_a), dtype=bool)
    sizes = np.bincount(labels)
    return sizes[labels[edge_a]] > max_size
