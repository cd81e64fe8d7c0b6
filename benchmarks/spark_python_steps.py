"""The Python steps on Spark (docs/scale_out.md): timings and the driver's memory limit.

``components``: connected components of the same edge list by the project's DuckDB + scipy path
(`resolve_components_in_duckdb`) and by large-star / small-star on Spark
(`resolve_components_on_spark`), both materialised, and the two results compared row for row.
The edge list is the 3,000-person build's identity graph (``--warehouse``) or the synthetic
identity-shaped graph of benchmarks/components_benchmark.py (``--people``; ~3 edges a person).

``fit-memory``: peak resident memory of the driver-side fits on synthetic per-customer rows
(``--step churn``: the training frame of ``--rows`` x 17 features, its stratified cap and the
calibrated boosting fit; ``--step clv``: BG/NBD + Gamma-Gamma on ``--rows`` x 4), one child
process per size so every figure is that step's own peak.

    PYTHONPATH=src /work/venv-spark/bin/python benchmarks/spark_python_steps.py components \\
        --people 330000 --work-dir /tmp/spark-steps
    PYTHONPATH=src .venv/bin/python benchmarks/spark_python_steps.py fit-memory --step churn \\
        --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from segwarehouse.identity.components import resolve_components_in_duckdb

COLUMNS = "node_id, component_id, deterministic_component_id, uncapped_component_id, "
COLUMNS += "uncapped_component_size"
EDGE_SQL = "select node_id_a, node_id_b, match_method, first_record_type from edges"


def edges_from_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Tables nodes and edges in `con`: the identity graph of a DuckDB build."""
    con.execute(f"attach '{warehouse}' as built (read_only)")
    con.execute(
        "create table nodes as select node_id from built.intermediate.int_identity_nodes "
        "where forms_edges"
    )
    columns = "node_id_a, node_id_b, match_method, first_record_type"
    con.execute(
        f"create table edges as select {columns} from built.intermediate.int_identity_edges "
        f"union all select {columns} from built.intermediate.int_identity_probabilistic_links"
    )
    con.execute("detach built")


def synthetic_edges(con: duckdb.DuckDBPyConnection, people: int) -> None:
    """Tables nodes and edges in `con`: components_benchmark.build_graph's identity-shaped
    graph, every edge deterministic and order-asserted (so the cap cuts it like the model)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from components_benchmark import build_graph

    build_graph(con, people)
    con.execute(
        "create or replace table edges as select node_id_a, node_id_b, "
        "'deterministic' as match_method, 'order' as first_record_type from edges"
    )


def components(args: argparse.Namespace) -> dict[str, Any]:
    """Both paths on the same edges; seconds, sizes and whether every row is equal."""
    from segwarehouse import scale_out
    from segwarehouse.identity.spark_components import resolve_components_on_spark

    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(work / "components.duckdb"))
    con.execute(f"set threads = {args.duckdb_threads}")
    for table in ("nodes", "edges", "scipy_labels"):
        con.execute(f"drop table if exists {table}")
    if args.warehouse:
        edges_from_warehouse(con, args.warehouse)
    else:
        synthetic_edges(con, args.people)
    counts = con.sql("select (select count(*) from nodes), (select count(*) from edges)")
    nodes, edges = counts.fetchall()[0]
    con.execute(f"copy nodes to '{work / 'nodes.parquet'}' (format parquet)")
    con.execute(f"copy edges to '{work / 'edges.parquet'}' (format parquet)")

    started = time.perf_counter()
    relation = resolve_components_in_duckdb(
        con, "select node_id from nodes", EDGE_SQL, args.max_size
    )
    relation.create("scipy_labels")
    scipy_seconds = time.perf_counter() - started

    started = time.perf_counter()
    spark = scale_out.local_spark_session(work / "spark-warehouse", cores=args.cores)
    spark.sparkContext.setLogLevel("ERROR")
    jvm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    spark_nodes = spark.read.parquet(str(work / "nodes.parquet"))
    spark_edges = spark.read.parquet(str(work / "edges.parquet"))
    result = resolve_components_on_spark(spark_nodes, spark_edges, args.max_size)
    result.write.mode("overwrite").parquet(str(work / "spark_labels.parquet"))
    spark_seconds = time.perf_counter() - started
    spark.stop()

    spark_rows = f"read_parquet('{work / 'spark_labels.parquet'}/*.parquet')"
    differing = con.sql(
        f"select count(*) from ((select {COLUMNS} from scipy_labels) "
        f"except all (select {COLUMNS} from {spark_rows})) "
        f"union all select count(*) from ((select {COLUMNS} from {spark_rows}) "
        f"except all (select {COLUMNS} from scipy_labels))"
    ).fetchall()
    stats = con.sql(
        "select count(distinct component_id), max(uncapped_component_size) from scipy_labels"
    ).fetchall()[0]
    return {
        "graph": str(args.warehouse) if args.warehouse else f"synthetic, {args.people} people",
        "nodes": nodes,
        "edges": edges,
        "components": stats[0],
        "largest_uncapped_component": stats[1],
        "scipy_seconds": round(scipy_seconds, 2),
        "spark_session_seconds": round(jvm_seconds, 2),
        "spark_seconds": round(spark_seconds, 2),
        "spark_cores": args.cores,
        "rows_only_in_one": [row[0] for row in differing],
    }


def churn_rows(rows: int, seed: int) -> pd.DataFrame:
    """int_churn_feature_snapshots-like training rows: customer_key, churned, 17 features."""
    from segwarehouse.ml.churn import FEATURES

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.gamma(2.0, 30.0, size=(rows, len(FEATURES))), columns=list(FEATURES))
    signal = frame["recency_days"] / 60 - frame["order_count"] / 40
    frame["churned"] = (signal + rng.normal(0, 1, rows) > 0.5).astype(int)
    frame["snapshot_name"] = "training"
    frame["customer_key"] = [f"cus_{value:016x}" for value in range(rows)]
    return frame


def fit_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds and peak RSS of one driver-side fit on `rows` synthetic customers."""
    started = time.perf_counter()
    if args.step == "churn":
        from segwarehouse.ml.churn import ChurnSettings, frames_from_snapshots, model_row

        snapshots = churn_rows(args.rows, 1)
        data_rss = peak_rss_mb()
        train, _ = frames_from_snapshots(snapshots, "2026-06-30", ChurnSettings())
        row = model_row(train, ChurnSettings())
        fitted = row["fit_status"].iloc[0]
        note = f"training rows {len(train.labels)}, fit {fitted}"
    else:
        from segwarehouse.ml.clv import fit_clv_parameters

        rng = np.random.default_rng(1)
        age = rng.integers(30, 1500, args.rows)
        recency = (age * rng.random(args.rows)).astype(int)
        frequency = np.where(recency > 0, rng.poisson(3, args.rows), 0)
        rfm = pd.DataFrame(
            {
                "customer_key": [f"cus_{value:016x}" for value in range(args.rows)],
                "frequency": frequency,
                "recency_clv_days": recency,
                "age_clv_days": age,
                "monetary_clv": np.where(frequency > 0, rng.gamma(3.0, 20.0, args.rows), 0.0),
            }
        )
        data_rss = peak_rss_mb()
        parameters = fit_clv_parameters(rfm, "2026-06-30")
        note = f"{len(parameters)} parameters"
    return {
        "step": args.step,
        "rows": args.rows,
        "peak_rss_mb_after_data": data_rss,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": round(time.perf_counter() - started, 1),
        "note": note,
    }


def peak_rss_mb() -> int:
    """This process's peak resident set so far (Linux: ru_maxrss is in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    graph = commands.add_parser("components")
    graph.add_argument("--warehouse", type=Path, help="a DuckDB build (its identity graph)")
    graph.add_argument("--people", type=int, default=330_000, help="synthetic graph size")
    graph.add_argument("--work-dir", type=Path, required=True)
    graph.add_argument("--max-size", type=int, default=50)
    graph.add_argument("--cores", type=int, default=2)
    graph.add_argument("--duckdb-threads", type=int, default=2)
    memory = commands.add_parser("fit-memory")
    memory.add_argument("--step", choices=("churn", "clv"), required=True)
    memory.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    # the components' rounds ("stars after N rounds") go to stderr
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("segwarehouse").setLevel(logging.INFO)
    result = components(args) if args.command == "components" else fit_memory(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
