"""Connected components of the identity graph on Spark, for edge lists one driver cannot hold.

Same contract and same result as `segwarehouse.identity.components.resolve_components_in_duckdb`
(node_id, component_id, deterministic_component_id, uncapped_component_id,
uncapped_component_size): the same partition, the same size cap (untrusted links cut first,
then every link of a still oversized component) and the same ids. scipy numbers components
0, 1, ... in the order of their smallest node index, and the DuckDB path numbers nodes in
node_id order, so a component's id is the rank of its smallest node_id among all components'
smallest node_ids; this module numbers them by that rule.

Components are found by the alternating large-star / small-star algorithm (Kiveris, Lattanzi,
Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce and Beyond", SoCC 2014):
each round is a few joins and aggregates over the edge list, no node or edge is ever collected
to the driver, and it converges in O(log^2 n) rounds (a long path does not need one round per
hop, unlike min-label propagation). It stops when the edges form stars centred on each
component's smallest node, checked exactly before every round (no node with two smaller
neighbours, or with a smaller and a larger one); past `max_iterations` rounds it raises
ComponentsDidNotConverge. A round is two shuffles (neighbourhoods grouped by node, then by
the larger end); its results are materialised (`localCheckpoint`: executor memory / disk,
not a reliable checkpoint), so the query plan does not grow with the rounds.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from segwarehouse.identity.components import TRUSTED_RECORD_TYPES

logger = logging.getLogger("segwarehouse.identity.spark_components")

# Rounds of large-star + small-star before giving up: the algorithm needs O(log^2 n) rounds
# (rounds measured on real-shaped graphs are in docs/scale_out.md).
DEFAULT_MAX_ITERATIONS = 60


class ComponentsDidNotConverge(RuntimeError):
    """The edge list was not reduced to stars within the iteration cap."""


def resolve_components_on_spark(
    nodes: DataFrame,
    edges: DataFrame,
    max_size: int,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> DataFrame:
    """Components of the graph given by two DataFrames, capped at `max_size` nodes.

    `nodes` has node_id; `edges` has node_id_a, node_id_b, match_method, first_record_type
    (edges to unknown nodes are ignored), as for resolve_components_in_duckdb. The result has
    node_id, component_id, deterministic_component_id, uncapped_component_id,
    uncapped_component_size (one row per distinct node_id).
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, got {max_size}")
    keyed = _keyed_nodes(nodes)
    pairs = _keyed_edges(edges, keyed)
    uncapped = component_roots(keyed, pairs, max_iterations)
    final = _capped_roots(keyed, pairs, uncapped, max_size, max_iterations)
    # The part of a final component reachable through deterministic edges alone.
    kept = _with_roots(pairs, final).where("is_deterministic and root_a = root_b")
    deterministic = component_roots(keyed, kept, max_iterations)
    sizes = uncapped.groupBy("root").agg(F.count("*").alias("uncapped_component_size"))
    result = (
        keyed.join(_numbered(final, "component_id"), "node_key")
        .join(_numbered(deterministic, "deterministic_component_id"), "node_key")
        .join(_numbered(uncapped, "uncapped_component_id"), "node_key")
        .join(
            uncapped.join(sizes, "root").select("node_key", "uncapped_component_size"), "node_key"
        )
    )
    return result.select(
        "node_id",
        "component_id",
        "deterministic_component_id",
        "uncapped_component_id",
        "uncapped_component_size",
    )


def component_roots(
    nodes: DataFrame, pairs: DataFrame, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> DataFrame:
    """node_key, root: every node of `nodes` (node_key) with the smallest node_key of its
    component in the undirected graph of `pairs` (a, b: node keys; other columns ignored)."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    edges = _canonical(pairs).localCheckpoint()
    for rounds in range(max_iterations):
        neighbours = _neighbourhoods(edges)
        if neighbours.where("smaller > 1 or (smaller = 1 and larger > 0)").isEmpty():
            logger.info("connected components: stars after %d rounds", rounds)
            break
        edges = _small_star(_large_star(neighbours)).localCheckpoint()
    else:
        neighbours = _neighbourhoods(edges)
        if not neighbours.where("smaller > 1 or (smaller = 1 and larger > 0)").isEmpty():
            raise ComponentsDidNotConverge(
                f"connected components did not converge in {max_iterations} rounds of "
                f"large-star / small-star ({edges.count()} edges left): raise max_iterations "
                "(the algorithm needs O(log^2 n) rounds), or look for an unexpected giant "
                "component in the edge list"
            )
    # A star forest: a leaf's one neighbour, and a centre itself, is the component's smallest.
    roots = neighbours.select(F.col("u").alias("node_key"), F.col("m").alias("root"))
    return (
        nodes.select("node_key")
        .join(roots, "node_key", "left")
        .select("node_key", F.coalesce("root", "node_key").alias("root"))
    )


def _canonical(pairs: DataFrame) -> DataFrame:
    """Undirected edges as (hi, lo), hi > lo; self-loops dropped (duplicates may remain)."""
    return pairs.where(F.col("a") != F.col("b")).select(
        F.greatest("a", "b").alias("hi"), F.least("a", "b").alias("lo")
    )


def _neighbourhoods(edges: DataFrame) -> DataFrame:
    """u, its distinct neighbours, m (the smallest of u and them), and how many of them are
    smaller / larger than u; materialised, since both the convergence check and the next
    round read it. The edges form a star forest centred on each component's smallest node
    when no node has two smaller neighbours, or one smaller and a larger one."""
    both = edges.select(F.col("hi").alias("u"), F.col("lo").alias("v")).union(
        edges.select(F.col("lo").alias("u"), F.col("hi").alias("v"))
    )
    return (
        both.groupBy("u")
        .agg(F.collect_set("v").alias("neighbours"))
        .select(
            "u",
            "neighbours",
            F.least(F.array_min("neighbours"), F.col("u")).alias("m"),
            F.size(F.filter("neighbours", lambda v: v < F.col("u"))).alias("smaller"),
            F.size(F.filter("neighbours", lambda v: v > F.col("u"))).alias("larger"),
        )
        .localCheckpoint()
    )


def _large_star(neighbours: DataFrame) -> DataFrame:
    """Each node u links its larger neighbours to the smallest of u and its neighbours."""
    larger = F.explode(F.filter("neighbours", lambda v: v > F.col("u")))
    return neighbours.select(larger.alias("hi"), F.col("m").alias("lo"))


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node u links itself and its smaller neighbours to the smallest of them."""
    smaller = edges.groupBy("hi").agg(F.collect_set("lo").alias("smaller"))
    smallest = F.array_min("smaller")
    linked = F.concat(F.array("hi"), F.filter("smaller", lambda v: v != smallest))
    return smaller.select(F.explode(linked).alias("hi"), smallest.alias("lo"))


def _keyed_nodes(nodes: DataFrame) -> DataFrame:
    """node_id, node_key: distinct node ids with a bigint key that follows node_id order (so
    a component's smallest key is its smallest node_id), materialised once."""
    ordered = nodes.select("node_id").where("node_id is not null").distinct().orderBy("node_id")
    return ordered.withColumn("node_key", F.monotonically_increasing_id()).localCheckpoint()


def _keyed_edges(edges: DataFrame, keyed: DataFrame) -> DataFrame:
    """a, b (node keys), is_deterministic, is_trusted of every edge between known nodes."""
    trusted_types = [F.lit(record_type) for record_type in TRUSTED_RECORD_TYPES]
    is_deterministic = F.coalesce(F.col("match_method") == "deterministic", F.lit(False))
    node_a = keyed.select(F.col("node_id").alias("node_id_a"), F.col("node_key").alias("a"))
    node_b = keyed.select(F.col("node_id").alias("node_id_b"), F.col("node_key").alias("b"))
    return (
        edges.join(node_a, "node_id_a")
        .join(node_b, "node_id_b")
        .select(
            "a",
            "b",
            is_deterministic.alias("is_deterministic"),
            (
                is_deterministic
                & F.coalesce(F.col("first_record_type").isin(*trusted_types), F.lit(False))
            ).alias("is_trusted"),
        )
        .localCheckpoint()
    )


def _with_roots(pairs: DataFrame, roots: DataFrame) -> DataFrame:
    """`pairs` with root_a and root_b: the components of their two ends."""
    root_a = roots.select(F.col("node_key").alias("a"), F.col("root").alias("root_a"))
    root_b = roots.select(F.col("node_key").alias("b"), F.col("root").alias("root_b"))
    return pairs.join(root_a, "a").join(root_b, "b")


def _oversized_edges(pairs: DataFrame, roots: DataFrame, max_size: int) -> DataFrame:
    """`pairs` with `oversized`: whether the edge lies in a component of more than max_size."""
    sizes = roots.groupBy("root").agg(F.count("*").alias("size"))
    return (
        pairs.join(roots.select(F.col("node_key").alias("a"), "root"), "a")
        .join(sizes, "root")
        .withColumn("oversized", F.col("size") > max_size)
        .drop("root", "size")
    )


def _capped_roots(
    nodes: DataFrame, pairs: DataFrame, uncapped: DataFrame, max_size: int, max_iterations: int
) -> DataFrame:
    """Roots after cutting oversized components: untrusted links first, then all links
    (the rule of segwarehouse.identity.components._cap)."""
    marked = _oversized_edges(pairs, uncapped, max_size).localCheckpoint()
    if marked.where("oversized").isEmpty():
        return uncapped
    kept = marked.where("not oversized or is_trusted").drop("oversized").localCheckpoint()
    roots = component_roots(nodes, kept, max_iterations)
    remarked = _oversized_edges(kept, roots, max_size).localCheckpoint()
    if remarked.where("oversized").isEmpty():
        return roots
    return component_roots(nodes, remarked.where("not oversized"), max_iterations)


def _numbered(roots: DataFrame, name: str) -> DataFrame:
    """node_key and `name`: 0, 1, ... per component in the order of its root (smallest key)."""
    distinct_roots = roots.select("root").distinct()
    return roots.join(consecutive_index(distinct_roots, "root", name), "root").select(
        "node_key", name
    )


def consecutive_index(frame: DataFrame, order_column: str, name: str) -> DataFrame:
    """`frame` with `name` = 0, 1, ... in `order_column` order, without moving every row to
    one partition (`row_number() over (order by ...)` would): rows are range-partitioned by
    the sort, numbered inside each partition, and offset by the sizes of the partitions
    before (one row per partition reaches the driver)."""
    ordered = (
        frame.orderBy(order_column)
        .withColumn("_partition", F.spark_partition_id())
        .withColumn("_position", F.monotonically_increasing_id())
        .localCheckpoint()
    )
    parts = (
        ordered.groupBy("_partition")
        .agg(F.count("*").alias("_rows"), F.min("_position").alias("_first"))
        .withColumn(
            "_offset",
            F.sum("_rows").over(Window.orderBy("_partition")) - F.col("_rows"),
        )
    )
    return (
        ordered.join(F.broadcast(parts), "_partition")
        .withColumn(name, F.col("_offset") + F.col("_position") - F.col("_first"))
        .drop("_partition", "_position", "_rows", "_first", "_offset")
    )
