"""The Python steps on Spark (docs/scale_out.md, "Python steps on Spark"): connected components
by large-star / small-star joins, and churn / CLV scored on the executors with the DuckDB
path's scoring functions, must give the DuckDB path's rows.

Needs pyspark and a Java runtime; skipped, with the reason, when either is missing (the
default `make install` has no `[spark]` extra). One local SparkSession serves every test."""

from __future__ import annotations

import itertools
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import Workspace

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH: local Spark needs Java 17", allow_module_level=True)

from pyspark.sql import SparkSession

from segwarehouse import scale_out, spark_steps
from segwarehouse.identity.components import resolve_components_in_duckdb
from segwarehouse.identity.spark_components import (
    ComponentsDidNotConverge,
    resolve_components_on_spark,
)
from segwarehouse.ml.churn import FEATURES, SCORES_SCHEMA, ChurnSettings
from segwarehouse.ml.spark_scoring import churn_scores_on_spark

COMPONENT_COLUMNS = [
    "node_id",
    "component_id",
    "deterministic_component_id",
    "uncapped_component_id",
    "uncapped_component_size",
]
EDGE_COLUMNS = ["node_id_a", "node_id_b", "match_method", "first_record_type"]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """The tests' one local session: 2 cores, 4 shuffle partitions, Arrow for pandas."""
    session = scale_out.local_spark_session(tmp_path_factory.mktemp("spark") / "warehouse")
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    yield session


def edge(a: str, b: str, method: str = "deterministic", record: str = "order") -> tuple:
    return (a, b, method, record)


def duckdb_components(nodes: list[str], edges: list[tuple], max_size: int) -> pd.DataFrame:
    """The DuckDB path's rows (resolve_components_in_duckdb, scipy) for these nodes and edges."""
    con = duckdb.connect()
    con.register("nodes_frame", pd.DataFrame({"node_id": nodes}))
    con.register("edges_frame", pd.DataFrame(edges, columns=EDGE_COLUMNS))
    result = resolve_components_in_duckdb(
        con, "select node_id from nodes_frame", "select * from edges_frame", max_size
    )
    return sorted_rows(result.df())


def spark_components(
    spark: SparkSession, nodes: list[str], edges: list[tuple], max_size: int, **options: int
) -> pd.DataFrame:
    nodes_frame = spark.createDataFrame(pd.DataFrame({"node_id": nodes}))
    edges_frame = spark.createDataFrame(
        pd.DataFrame(edges, columns=EDGE_COLUMNS),
        "node_id_a string, node_id_b string, match_method string, first_record_type string",
    )
    result = resolve_components_on_spark(nodes_frame, edges_frame, max_size, **options)
    return sorted_rows(result.toPandas())


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[COMPONENT_COLUMNS].sort_values("node_id").reset_index(drop=True)
    return frame.astype({name: "int64" for name in COMPONENT_COLUMNS[1:]})


def shuffled_names(prefix: str, count: int, rng: random.Random) -> list[str]:
    """Node ids whose sort order has nothing to do with their position in the shape."""
    names = [f"{prefix}{value:06d}" for value in rng.sample(range(10 * count), count)]
    return names


def uncapped_shapes() -> tuple[list[str], list[tuple]]:
    """Chains, stars, isolated nodes, a long path (up to 999 rounds for min-label propagation), a
    random sparse graph, duplicate and self edges, and an edge to an unknown node."""
    rng = random.Random(7)
    nodes: list[str] = []
    edges: list[tuple] = []
    # probabilistic, so that the deterministic parts' second run of the rounds stays short
    path = shuffled_names("path:", 1000, rng)
    edges += [edge(a, b, "probabilistic") for a, b in itertools.pairwise(path)]
    for number in range(20):
        star = shuffled_names(f"star{number}:", 2 + number, rng)
        edges += [edge(star[0], leaf, "probabilistic", "crm_customer") for leaf in star[1:]]
        nodes += star
    for number in range(30):
        chain = shuffled_names(f"chain{number}:", 1 + number % 6, rng)
        edges += [edge(a, b) for a, b in itertools.pairwise(chain)]
        nodes += chain
    loose = shuffled_names("random:", 400, rng)
    edges += [
        edge(*rng.sample(loose, 2), rng.choice(["deterministic", "probabilistic"]))
        for _ in range(300)
    ]
    edges += [edge(path[5], path[4]), edge(path[9], path[9]), edge(path[0], "unknown:1")]
    nodes += path + loose + shuffled_names("isolated:", 50, rng)
    return nodes, edges


def capped_shapes() -> tuple[list[str], list[tuple]]:
    """The size cap's cases (tests/python/test_identity_components.py), max size 3."""
    edges = [
        # cut to its CRM-asserted links: {a0, a1}, {a2, a3}, a4, a5
        edge("a0", "a1", record="crm_customer"),
        edge("a2", "a3", record="crm_customer"),
        edge("a1", "a2"),
        edge("a3", "a4"),
        edge("a4", "a5"),
        # still oversized on trusted links alone: single nodes; {b4, b5} untouched
        *[edge(f"b{n}", f"b{n + 1}", record="crm_customer") for n in range(3)],
        edge("b4", "b5"),
        # a duplicate edge asserted by CRM and by an order: the trusted copy survives
        edge("c0", "c1"),
        edge("c0", "c1", record="crm_customer"),
        edge("c1", "c2"),
        edge("c2", "c3"),
        # probabilistic link inside a kept component: the deterministic parts differ
        edge("d0", "d1"),
        edge("d1", "d2", "probabilistic", "crm_customer"),
    ]
    nodes = sorted({name for row in edges for name in row[:2]} | {"e0"})
    return nodes, edges


def test_components_of_shapes_equal_the_scipy_path(spark: SparkSession) -> None:
    nodes, edges = uncapped_shapes()
    expected = duckdb_components(nodes, edges, max_size=10_000)
    assert expected["component_id"].nunique() > 100  # many components, one of 1,000 nodes
    assert expected["uncapped_component_size"].max() == 1000
    pd.testing.assert_frame_equal(spark_components(spark, nodes, edges, 10_000), expected)


def test_capped_components_equal_the_scipy_path(spark: SparkSession) -> None:
    nodes, edges = capped_shapes()
    expected = duckdb_components(nodes, edges, max_size=3)
    groups = expected.groupby("component_id")["node_id"].apply(frozenset)
    assert {frozenset({"a0", "a1"}), frozenset({"b0"}), frozenset({"c0", "c1"})} <= set(groups)
    assert expected["deterministic_component_id"].nunique() > expected["component_id"].nunique()
    pd.testing.assert_frame_equal(spark_components(spark, nodes, edges, 3), expected)


def test_iteration_cap_raises_a_clear_error(spark: SparkSession) -> None:
    path = [f"p{n:03d}" for n in range(200)]
    edges = [edge(a, b) for a, b in itertools.pairwise(path)]
    with pytest.raises(ComponentsDidNotConverge, match="did not converge in 1 rounds"):
        spark_components(spark, path, edges, 10_000, max_iterations=1)


def test_max_size_below_one_is_refused(spark: SparkSession) -> None:
    nodes = spark.createDataFrame(pd.DataFrame({"node_id": ["a"]}))
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        resolve_components_on_spark(nodes, nodes, 0)


# What the Python steps read, registered from the DuckDB build as segwarehouse.scale_out does.
STEP_INPUTS = (
    "int_run_context",
    "int_identity_nodes",
    "int_identity_edges",
    "int_identity_probabilistic_links",
    "int_churn_feature_snapshots",
    "customer_rfm",
)


@pytest.fixture(scope="module")
def stepped(
    built: Workspace, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> SparkSession:
    """The session after spark_steps' three steps ran on the DuckDB build's inputs."""
    root: Path = tmp_path_factory.mktemp("spark_inputs")
    tables = scale_out.export_warehouse(
        built.warehouse, root, ("intermediate", "marts"), names=STEP_INPUTS
    )
    assert {table.name for table in tables} == set(STEP_INPUTS)
    scale_out.register_inputs(spark, tables)
    spark_steps.run_steps(spark, ["components", "clv", "churn"])
    return spark


def build_table(built: Workspace, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(built.warehouse), read_only=True) as con:
        return con.sql(sql).df()


def test_components_step_equals_the_build(built: Workspace, stepped: SparkSession) -> None:
    result = sorted_rows(stepped.table("intermediate.int_identity_components").toPandas())
    expected = sorted_rows(build_table(built, "select * from intermediate.int_identity_components"))
    assert len(expected) > 10_000
    assert expected["component_id"].nunique() < len(expected)  # links were found
    pd.testing.assert_frame_equal(result, expected)


def assert_scores_equal(result: pd.DataFrame, expected: pd.DataFrame, floats: list[str]) -> None:
    """Same customers and text columns; every float within 1e-9 (nulls where nulls)."""
    assert len(expected) > 1000
    result = result.sort_values("customer_key").reset_index(drop=True)
    expected = expected.sort_values("customer_key").reset_index(drop=True)
    assert result.columns.tolist() == expected.columns.tolist()
    others = [name for name in expected.columns if name not in floats]
    pd.testing.assert_frame_equal(
        result[others].astype(str), expected[others].astype(str), check_dtype=False
    )
    for name in floats:
        got, want = result[name].to_numpy(float), expected[name].to_numpy(float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), name
        assert np.nanmax(np.abs(got - want)) <= 1e-9, name


def test_churn_step_fits_the_same_model_and_scores_equal_the_build(
    built: Workspace, stepped: SparkSession
) -> None:
    columns = "model_name, model_version, training_cutoff_date, training_size, fit_status"
    fitted = stepped.sql(f"select {columns} from intermediate.int_churn_model").toPandas()
    expected_fit = build_table(built, f"select {columns} from intermediate.int_churn_model")
    # the same training rows (model_version hashes them), settings and cutoff
    pd.testing.assert_frame_equal(fitted.astype(str), expected_fit.astype(str))
    scores = stepped.table("marts.customer_churn_scores").toPandas()
    expected = build_table(built, "select * from marts.customer_churn_scores")
    assert_scores_equal(scores, expected, ["churn_probability"])


def test_clv_step_equals_the_build(built: Workspace, stepped: SparkSession) -> None:
    parameters = stepped.table("marts.clv_model_params").toPandas()
    expected_parameters = build_table(built, "select * from marts.clv_model_params")
    pd.testing.assert_frame_equal(
        parameters.sort_values(["model_name", "parameter"]).reset_index(drop=True).astype(str),
        expected_parameters.sort_values(["model_name", "parameter"])
        .reset_index(drop=True)
        .astype(str),
    )
    expected = build_table(built, "select * from marts.customer_clv")
    floats = [
        "monetary_clv",
        "probability_alive",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "expected_spend_per_purchase",
        "expected_revenue",
        "clv",
        "annual_discount_rate",
    ]
    assert_scores_equal(stepped.table("marts.customer_clv").toPandas(), expected, floats)


def test_churn_scores_without_a_model_are_empty(spark: SparkSession) -> None:
    rows = pd.DataFrame({"snapshot_name": ["scoring"], "customer_key": ["cus_1"]})
    for name in FEATURES:
        rows[name] = 1.0
    scored = churn_scores_on_spark(
        spark.createDataFrame(rows), None, None, "2026-06-30", ChurnSettings()
    )
    assert scored.columns == list(SCORES_SCHEMA)
    assert scored.count() == 0
