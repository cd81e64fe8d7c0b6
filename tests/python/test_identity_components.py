"""Connected components with the size cap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwarehouse.identity.components import label_components, resolve_components


def edges(*pairs: tuple[str, str], record_type: str = "order") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "node_id_a": [a for a, _ in pairs],
            "node_id_b": [b for _, b in pairs],
            "match_method": "deterministic",
            "first_record_type": record_type,
        }
    )


def groups(result: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g["node_id"]) for _, g in result.groupby("component_id")}


def test_chains_and_isolated_nodes() -> None:
    nodes = pd.DataFrame({"node_id": ["a", "b", "c", "d", "e"]})
    result = resolve_components(nodes, edges(("a", "b"), ("b", "c")), max_size=10)
    assert groups(result) == {frozenset("abc"), frozenset("d"), frozenset("e")}
    assert result.set_index("node_id")["uncapped_component_size"].to_dict() == {
        "a": 3,
        "b": 3,
        "c": 3,
        "d": 1,
        "e": 1,
    }


def test_edges_to_unknown_nodes_are_ignored() -> None:
    nodes = pd.DataFrame({"node_id": ["a", "b"]})
    result = resolve_components(nodes, edges(("a", "zz"), ("zz", "b")), max_size=10)
    assert groups(result) == {frozenset("a"), frozenset("b")}


def test_oversized_component_keeps_only_crm_asserted_links() -> None:
    nodes = pd.DataFrame({"node_id": list("abcdef")})
    crm = edges(("a", "b"), ("c", "d"), record_type="crm_customer")
    weak = edges(("b", "c"), ("d", "e"), ("e", "f"))
    result = resolve_components(nodes, pd.concat([crm, weak]), max_size=3)
    assert groups(result) == {frozenset("ab"), frozenset("cd"), frozenset("e"), frozenset("f")}
    assert set(result["uncapped_component_size"]) == {6}


def test_component_still_oversized_after_trimming_is_split_to_single_nodes() -> None:
    nodes = pd.DataFrame({"node_id": list("abcd")})
    crm = edges(("a", "b"), ("b", "c"), ("c", "d"), record_type="crm_customer")
    small = pd.DataFrame({"node_id": ["x", "y"]})
    result = resolve_components(pd.concat([nodes, small]), pd.concat([crm, edges(("x", "y"))]), 3)
    assert groups(result) == {frozenset(n) for n in "abcd"} | {frozenset("xy")}


def test_deterministic_part_of_a_component() -> None:
    nodes = pd.DataFrame({"node_id": list("abcd")})
    links = pd.concat([edges(("a", "b")), edges(("c", "d"))])
    probabilistic = edges(("b", "c"), record_type="crm_customer")
    probabilistic["match_method"] = "probabilistic"
    result = resolve_components(nodes, pd.concat([links, probabilistic]), max_size=10)
    assert groups(result) == {frozenset("abcd")}
    parts = {frozenset(g["node_id"]) for _, g in result.groupby("deterministic_component_id")}
    assert parts == {frozenset("ab"), frozenset("cd")}


def test_probabilistic_links_are_not_trusted_when_cutting() -> None:
    nodes = pd.DataFrame({"node_id": list("abc")})
    links = edges(("a", "b"), ("b", "c"), record_type="crm_customer")
    links["match_method"] = "probabilistic"
    assert groups(resolve_components(nodes, links, max_size=2)) == {frozenset(n) for n in "abc"}


def test_empty_graph_and_bad_cap() -> None:
    empty = resolve_components(pd.DataFrame({"node_id": []}), edges(), max_size=5)
    assert empty.empty
    with pytest.raises(ValueError, match="max_size"):
        resolve_components(pd.DataFrame({"node_id": ["a"]}), edges(), max_size=0)


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
