"""Connected components of the identity graph (deterministic and probabilistic edges), capped.

Thin dbt model: the logic and its tests live in segwarehouse.identity.components.
"""

from __future__ import annotations

from typing import Any

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.identity.components import resolve_components_in_duckdb
from segwarehouse.ml.run_log import recorded_run

EDGE_COLUMNS = "node_id_a, node_id_b, match_method, first_record_type"


def model(dbt: Any, session: Any) -> Any:
    """One row per linking node: node_id, component ids and the uncapped component size."""
    dbt.config(materialized="table")
    nodes_relation = dbt.ref("int_identity_nodes")
    deterministic_relation = dbt.ref("int_identity_edges")
    probabilistic_relation = dbt.ref("int_identity_probabilistic_links")
    context_relation = dbt.ref("int_run_context")
    max_size = int(dbt.config.get("max_component_size"))

    con = duckdb_connection(session)

    def compute() -> Any:
        nodes_relation.filter("forms_edges").project("node_id").create_view(
            "identity_linking_nodes", replace=True
        )
        deterministic_relation.project(EDGE_COLUMNS).union(
            probabilistic_relation.project(EDGE_COLUMNS)
        ).create_view("identity_all_edges", replace=True)
        return resolve_components_in_duckdb(
            con,
            "select node_id from identity_linking_nodes",
            "select * from identity_all_edges",
            max_size,
        )

    # The output stays a lazy relation (typed by its SQL; output_rows not counted); an error
    # stops the build, since no mart is right without customer keys.
    return recorded_run(
        con, "int_identity_components", context_relation, {}, compute, optional=False
    )
