"""Connected components with the size cap."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from segwarehouse.identity.components import (
    label_components,
    resolve_component_labels,
    resolve_components_in_duckdb,
)


def graph(
    edges: list[tuple[int, int]],
    trusted: set[int] = frozenset(),
    probabilistic: set[int] = frozenset(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays for edges; `trusted` / `probabilistic` are positions in `edges`."""
    a = np.array([x for x, _ in edges], dtype=np.int64)
    b = np.array([y for _, y in edges], dtype=np.int64)
    deterministic = np.array([i not in probabilistic for i in range(len(edges))], dtype=bool)
    is_trusted = np.array([i in trusted for i in range(len(edges))], dtype=bool) & deterministic
    return a, b, deterministic, is_trusted


def groups(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in np.unique(labels)}


def test_chains_and_isolated_nodes() -> None:
    result = resolve_component_labels(5, *graph([(0, 1), (1, 2)]), max_size=10)
    assert groups(result.component_id) == {frozenset({0, 1, 2}), frozenset({3}), frozenset({4})}
    assert result.uncapped_component_size.tolist() == [3, 3, 3, 1, 1]


def test_oversized_component_keeps_only_crm_asserted_links() -> None:
    # 0-1 and 2-3 asserted by CRM records; 1-2, 3-4, 4-5 only by orders / web events.
    edges = [(0, 1), (2, 3), (1, 2), (3, 4), (4, 5)]
    result = resolve_component_labels(6, *graph(edges, trusted={0, 1}), max_size=3)
    assert groups(result.component_id) == {
        frozenset({0, 1}),
        frozenset({2, 3}),
        frozenset({4}),
        frozenset({5}),
    }
    assert set(result.uncapped_component_size.tolist()) == {6}


def test_component_still_oversized_after_trimming_is_split_to_single_nodes() -> None:
    edges = [(0, 1), (1, 2), (2, 3), (4, 5)]
    result = resolve_component_labels(6, *graph(edges, trusted={0, 1, 2}), max_size=3)
    assert groups(result.component_id) == {frozenset({n}) for n in range(4)} | {frozenset({4, 5})}


def test_deterministic_part_of_a_component() -> None:
    result = resolve_component_labels(4, *graph([(0, 1), (2, 3), (1, 2)], probabilistic={2}), 10)
    assert groups(result.component_id) == {frozenset({0, 1, 2, 3})}
    assert groups(result.deterministic_component_id) == {frozenset({0, 1}), frozenset({2, 3})}


def test_probabilistic_links_are_not_trusted_when_cutting() -> None:
    edges = [(0, 1), (1, 2)]
    result = resolve_component_labels(3, *graph(edges, trusted={0, 1}, probabilistic={0, 1}), 2)
    assert groups(result.component_id) == {frozenset({n}) for n in range(3)}


def test_empty_graph_and_bad_cap() -> None:
    empty = resolve_component_labels(0, *graph([]), max_size=5)
    assert empty.component_id.size == 0
    with pytest.raises(ValueError, match="max_size"):
        resolve_component_labels(1, *graph([]), max_size=0)


def test_label_components_matches_a_reference_union_find() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    a, b = rng.integers(0, n, 1_500), rng.integers(0, n, 1_500)
    labels = label_components(n, a, b)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a, b, strict=True):
        parent[find(int(x))] = find(int(y))
    roots = np.array([find(i) for i in range(n)])
    pairs = rng.integers(0, n, (5_000, 2))
    assert all((labels[i] == labels[j]) == (roots[i] == roots[j]) for i, j in pairs)


def test_resolve_in_duckdb_maps_node_ids_and_ignores_unknown_nodes() -> None:
    con = duckdb.connect()
    con.execute(
        "create table nodes as select * from (values ('a'), ('b'), ('c'), ('d')) t(node_id)"
    )
    con.execute(
        "create table edges as select * from (values "
        "('a', 'b', 'deterministic', 'order'), ('b', 'zz', 'deterministic', 'order'), "
        "('c', 'd', 'probabilistic', 'crm_customer')) "
        "t(node_id_a, node_id_b, match_method, first_record_type)"
    )
    rows = resolve_components_in_duckdb(
        con, "select node_id from nodes", "select * from edges", max_size=10
    ).fetchall()
    by_node = {row[0]: row[1:] for row in rows}
    assert set(by_node) == {"a", "b", "c", "d"}
    assert by_node["a"][0] == by_node["b"][0] != by_node["c"][0] == by_node["d"][0]
    # c and d are joined only through a probabilistic link.
    assert by_node["c"][1] != by_node["d"][1]
    assert by_node["a"][3] == 2
