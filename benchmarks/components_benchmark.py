"""Connected components at identity-graph scale: scipy (what the project uses) vs iterative
SQL label propagation in DuckDB (the alternative), on the same synthetic graph.

The graph mimics the identity graph at 1M people: per person 2-6 identifiers linked as a
star (plus ~2% of people linked to another person), no giant component.

    .venv/bin/python benchmarks/components_benchmark.py --people 1000000
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb
import numpy as np
import pandas as pd

from segwarehouse.identity.components import resolve_components_in_duckdb


def build_graph(con: duckdb.DuckDBPyConnection, people: int) -> None:
    """Tables nodes(node_id) and edges(node_id_a, node_id_b) in `con`."""
    con.execute(
        f"""
        create or replace table person_nodes as
        select p, k, 'n' || p || '-' || k as node_id
        from range({people}) as t(p),
             lateral (select unnest(range(2 + (hash(p * 7 + 1) % 5)::int)) as k)
        """
    )
    con.execute("create or replace table nodes as select node_id from person_nodes")
    con.execute(
        f"""
        create or replace table edges as
        select 'n' || p || '-0' as node_id_a, node_id as node_id_b
        from person_nodes where k > 0
        union all
        select 'n' || p || '-0', 'n' || ((p + 1 + hash(p * 7 + 2) % 1000) % {people}) || '-0'
        from range({people}) as t(p) where hash(p * 7 + 3) % 50 = 0
        """
    )


def scipy_components(con: duckdb.DuckDBPyConnection) -> tuple[float, pd.DataFrame]:
    """Seconds and labels with the project's implementation, materialised as the model is."""
    started = time.perf_counter()
    relation = resolve_components_in_duckdb(
        con,
        "select node_id from nodes",
        "select node_id_a, node_id_b, 'deterministic' as match_method, "
        "'order' as first_record_type from edges",
        max_size=10_000,
    )
    relation.create("scipy_labels")
    seconds = time.perf_counter() - started
    return seconds, con.sql("select node_id, component_id from scipy_labels").df()


def sql_label_propagation(con: duckdb.DuckDBPyConnection) -> tuple[float, int, pd.DataFrame]:
    """Seconds, iterations and labels of min-label propagation until nothing changes."""
    started = time.perf_counter()
    con.execute(
        """
        create or replace table undirected as
        select node_id_a as src, node_id_b as dst from edges
        union all select node_id_b, node_id_a from edges
        """
    )
    con.execute("create or replace table labels as select node_id, node_id as label from nodes")
    iterations = 0
    while True:
        iterations += 1
        con.execute(
            """
            create or replace table next_labels as
            select labels.node_id, least(labels.label, coalesce(min(neighbour.label), labels.label))
                as label
            from labels
            left join undirected on labels.node_id = undirected.src
            left join labels as neighbour on undirected.dst = neighbour.node_id
            group by labels.node_id, labels.label
            """
        )
        changed = con.execute(
            "select count(*) from next_labels join labels using (node_id) "
            "where next_labels.label <> labels.label"
        ).fetchall()[0][0]
        con.execute("create or replace table labels as select * from next_labels")
        if changed == 0:
            break
    seconds = time.perf_counter() - started
    return seconds, iterations, con.sql("select node_id, label from labels").df()


def same_partition(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """True when two labelings group the nodes identically."""
    merged = a.merge(b, on="node_id")
    pairs = merged.groupby(["component_id", "label"]).ngroups
    return bool(
        pairs == merged["component_id"].nunique() == merged["label"].nunique()
        and len(merged) == len(a) == len(b)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"set threads = {args.threads}; set memory_limit = '8GB'")
    build_graph(con, args.people)
    [(node_count, edge_count)] = con.execute(
        "select (select count(*) from nodes), (select count(*) from edges)"
    ).fetchall()
    scipy_seconds, scipy_labels = scipy_components(con)
    sql_seconds, iterations, sql_labels = sql_label_propagation(con)
    report = {
        "people": args.people,
        "nodes": int(node_count),
        "edges": int(edge_count),
        "components": int(np.unique(scipy_labels["component_id"]).size),
        "scipy_seconds": round(scipy_seconds, 2),
        "sql_seconds": round(sql_seconds, 2),
        "sql_iterations": iterations,
        "sql_over_scipy": round(sql_seconds / scipy_seconds, 1),
        "same_partition": same_partition(scipy_labels, sql_labels),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
