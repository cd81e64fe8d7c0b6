"""Connected components of the identity graph (deterministic and probabilistic edges), capped.

Thin dbt model: the logic and its tests live in segwarehouse.identity.components.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.identity.components import resolve_components


def model(dbt: Any, session: Any) -> Any:
    """One row per linking node: node_id, component_id, uncapped component id and size."""
    dbt.config(materialized="table")
    nodes_relation = dbt.ref("int_identity_nodes")
    deterministic_relation = dbt.ref("int_identity_edges")
    probabilistic_relation = dbt.ref("int_identity_probabilistic_links")
    max_size = int(dbt.config.get("max_component_size"))

    nodes = nodes_relation.filter("forms_edges").project("node_id").df()
    columns = "node_id_a, node_id_b, match_method, first_record_type"
    edges = (
        deterministic_relation.project(columns).union(probabilistic_relation.project(columns)).df()
    )
    return resolve_components(nodes, edges, max_size)
