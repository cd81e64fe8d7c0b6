"""Staging on Spark from the landing files (issue #27, docs/scale_out.md): one small generated
landing folder, built by DuckDB (`dbt build --selector staging`) and by dbt-spark in a local
session (the same build, then an incremental run of the staging base models), gives the
same rows in every raw, staging and data-quality relation. The raw layer on Spark is
`spark__register_raw_sources` (Spark's own CSV and parquet readers), the base models'
incremental strategy `spark__staging_incremental_strategy` (insert_overwrite of the table).

The folder mixes the layouts the raw contract accepts: orders as parquet, web events as a
folder of two CSV deliveries, the rest as one CSV each. Rows are compared as multisets over
every column matched by name (`scale_out.compare_output`): exact, except the run's
`batch_run_started_at` (left out) and DOUBLE columns (rounded to 12 decimal places; staging's
amounts are DECIMALs, compared exactly). One Spark session for the module.

Needs the optional extra `.[spark]` and Java, like test_spark_portability.py; skipped, with
the reason, without them."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from conftest import BUILD_VARS, END_DATE, Workspace, make_workspace, skip_without_spark
from segwarehouse import scale_out  # imports pyspark lazily
from segwarehouse.generator import generate

skip_without_spark(__name__)

CUSTOMERS = 300
SEED = 7
# Relations the DuckDB build has that the Spark build does not make: the Python models' run
# log and the scoped grain tests' passes (both written by DuckDB-only hooks).
DUCKDB_ONLY = {"audit.ml_model_run_log", "audit.test_passes"}


def mixed_landing_folder(raw_dir: Path, root: Path) -> None:
    """The generated sources in three layouts: orders as parquet, web_events as a folder of
    two deliveries (the first and second half of the file's lines), the rest as CSV."""
    generate(CUSTOMERS, SEED, raw_dir, root / "truth", END_DATE)
    with duckdb.connect() as con:
        orders = raw_dir / "orders.csv"
        con.execute(
            f"copy (select * from read_csv('{orders}', all_varchar = true)) "
            f"to '{raw_dir / 'orders.parquet'}' (format parquet)"
        )
        orders.unlink()
    header, *lines = (raw_dir / "web_events.csv").read_text(encoding="utf-8").splitlines()
    (raw_dir / "web_events.csv").unlink()
    (raw_dir / "web_events").mkdir()
    half = len(lines) // 2
    for name, part in (("2026-06-29.csv", lines[:half]), ("2026-06-30.csv", lines[half:])):
        (raw_dir / "web_events" / name).write_text("\n".join([header, *part]) + "\n")


def duckdb_relations(warehouse: Path) -> list[str]:
    """`schema.name` of every table and view the DuckDB staging build made."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = scale_out.duckdb_relations(con, ("raw", "staging", "audit"))
    return [f"{schema}.{name}" for schema, name in rows if f"{schema}.{name}" not in DUCKDB_ONLY]


def spark_relations(spark: object) -> set[str]:
    return {
        f"{schema}.{row.tableName}"
        for schema in ("raw", "staging", "audit")
        for row in spark.sql(f"show tables in {schema}").collect()  # type: ignore[attr-defined]
        if not row.isTemporary
    }


def dbt_messages(result: object) -> str:
    """Every message of a dbtRunner result: node messages and the exception, if any."""
    messages = [str(getattr(result, "exception", "") or "")]
    run = getattr(result, "result", None)
    for node_result in getattr(run, "results", None) or []:
        messages.append(str(node_result.message or ""))
    return "\n".join(messages)


@pytest.fixture(scope="module")
def spark_staging(dbt_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The DuckDB and the Spark staging builds of one folder, compared; then the session for
    the error cases. Comparisons are made here, before any test points the session's raw
    layer elsewhere."""
    root = tmp_path_factory.mktemp("spark_landing")
    duck = make_workspace(root / "duckdb")
    mixed_landing_folder(duck.raw_dir, root)
    started = time.perf_counter()
    run = duck.dbt("build", "--selector", "staging", dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    duckdb_seconds = time.perf_counter() - started
    with pytest.MonkeyPatch.context() as patch:
        # landing_session and the error cases set both: restored when the module is done
        patch.setenv("SEGMENTS_RAW_DIR", str(duck.raw_dir))
        patch.delenv(scale_out.INPUTS_ENV, raising=False)
        state = spark_build(duck, root)
        print(f"staging on DuckDB (dbt build) {duckdb_seconds:.1f} s; on Spark: {state['seconds']}")
        yield state
        state["spark"].stop()


def spark_build(duck: Workspace, root: Path) -> dict:
    """The same folder built on Spark (build, then the incremental base models again), and
    every relation compared with the DuckDB build's."""
    started = time.perf_counter()
    spark = scale_out.landing_session(duck.raw_dir, root / "spark", cores=2)
    options = ["--target-path", str(root / "target"), "--log-path", str(root / "logs")]
    steps = {
        # the selector holds the seeds staging reads (parents), as on DuckDB
        "build": ["build", "--selector", "staging", *options],
        # the base models again, now incremental: insert_overwrite of each whole table
        "incremental": ["run", "--select", "staging,config.materialized:incremental", *options],
    }
    outcomes = {}
    seconds = {"session": time.perf_counter() - started}
    for step, args in steps.items():
        step_started = time.perf_counter()
        result = scale_out.invoke_dbt(args, BUILD_VARS)
        outcomes[step] = (result.success, scale_out.node_statuses(result.result), result)
        seconds[step] = time.perf_counter() - step_started
    step_started = time.perf_counter()
    relations = duckdb_relations(duck.warehouse)
    present = spark_relations(spark)
    comparisons = scale_out.compare_relations(
        spark, duck.warehouse, [r for r in relations if r in present], root / "outputs"
    )
    raw_types = {
        relation: [(f.name, f.dataType.simpleString()) for f in spark.table(relation).schema]
        for relation in relations
        if relation.startswith("raw.") and relation in present
    }
    seconds["compare"] = time.perf_counter() - step_started
    return {
        "spark": spark,
        "duck": duck,
        "options": options,
        "outcomes": outcomes,
        "relations": relations,
        "present": present,
        "comparisons": {c.model: c for c in comparisons},
        "raw_types": raw_types,
        "root": root,
        "seconds": ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items()),
    }


def test_staging_builds_on_spark_from_the_landing_files(spark_staging: dict) -> None:
    for step, (success, statuses, result) in spark_staging["outcomes"].items():
        failed = {n: s for n, s in statuses.items() if s[0] not in ("success", "pass")}
        assert success and not failed, (step, failed, dbt_messages(result))
    incremental = spark_staging["outcomes"]["incremental"][1]
    assert len([n for n in incremental if n.startswith("base_")]) == 4, incremental


def test_spark_makes_every_relation_duckdb_makes(spark_staging: dict) -> None:
    missing = set(spark_staging["relations"]) - spark_staging["present"]
    assert not missing
    assert len(spark_staging["relations"]) > 40


def test_raw_relations_have_duckdbs_columns_all_text(spark_staging: dict) -> None:
    with duckdb.connect(str(spark_staging["duck"].warehouse), read_only=True) as con:
        for relation, spark_columns in spark_staging["raw_types"].items():
            described = con.execute(f"describe {relation}").fetchall()
            expected = [
                (name, "string" if kind == "VARCHAR" else "bigint" if kind == "BIGINT" else kind)
                for name, kind, *_ in described
            ]
            if relation.endswith("__landing_files"):  # DuckDB: with time zone; Spark: UTC
                expected = [
                    (n, "timestamp" if k == "TIMESTAMP WITH TIME ZONE" else k) for n, k in expected
                ]
            assert spark_columns == expected, relation


def test_every_relation_equals_duckdbs_row_for_row(spark_staging: dict) -> None:
    comparisons = spark_staging["comparisons"]
    assert set(comparisons) == {r.split(".")[-1] for r in spark_staging["relations"]}
    unequal = [c for c in comparisons.values() if not c.equal]
    assert not unequal, unequal
    assert comparisons["base_web__events"].duckdb_rows > 10_000
    assert comparisons["quarantined_rows"].duckdb_rows > 0


def landing_error(spark_staging: dict, raw_dir: Path) -> str:
    """Messages of a Spark `dbt run` on the landing folder raw_dir (expected to fail)."""
    os.environ["SEGMENTS_RAW_DIR"] = str(raw_dir)
    try:
        result = scale_out.invoke_dbt(
            ["run", "--select", "base_commerce__orders", *spark_staging["options"]], BUILD_VARS
        )
    finally:
        os.environ["SEGMENTS_RAW_DIR"] = str(spark_staging["duck"].raw_dir)
    assert not result.success
    return dbt_messages(result)


def minimal_folder(raw_dir: Path, source: Path, orders: bytes | None) -> Path:
    """crm_customers from `source`, and orders.csv with the bytes given (None: no file)."""
    raw_dir.mkdir(parents=True)
    shutil.copy(source / "crm_customers.csv", raw_dir / "crm_customers.csv")
    if orders is not None:
        (raw_dir / "orders.csv").write_bytes(orders)
    return raw_dir


ORDERS_HEADER = (
    b"order_id,customer_id,email,loyalty_id,anonymous_id,order_ts,channel,status,currency,"
    b"order_total,discount_amount\n"
)
ORDER_LINE = b"O1,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0\n"


def test_missing_required_file_is_named(spark_staging: dict) -> None:
    raw = minimal_folder(spark_staging["root"] / "no_orders", spark_staging["duck"].raw_dir, None)
    message = landing_error(spark_staging, raw)
    assert f"required file 'orders' not found: expected {raw}/orders.csv" in message


def test_malformed_files_are_refused_with_duckdbs_message(spark_staging: dict) -> None:
    source, root = spark_staging["duck"].raw_dir, spark_staging["root"]
    cases = {
        # Spark's file listing does not see a 0-byte file (no split to scan): not found
        "empty": (b"", "required file 'orders' not found", "an empty file is reported here too"),
        "latin1": (
            ORDERS_HEADER + ORDER_LINE + b"O2,C1,,,,2024-05-01 10:00:00,w\xe9b,completed,USD,1,0\n",
            "orders.csv is not UTF-8: line 3 has bytes that are not valid UTF-8 (1 such line(s)",
        ),
        "no_order_ts": (
            b"order_id,customer_id,status,order_total\nO1,C1,completed,1\n",
            "orders.csv has no column 'order_ts' (required)",
        ),
    }
    for case, (orders, *expected) in cases.items():
        message = landing_error(spark_staging, minimal_folder(root / case, source, orders))
        assert all(fragment in message for fragment in expected), (case, message)


def test_ragged_line_stops_the_model_naming_the_file(spark_staging: dict) -> None:
    """Spark's FAILFAST CSV reader refuses a line with more fields than the header, as
    DuckDB's read_csv does (Spark names the file, not the line)."""
    orders = ORDERS_HEADER + ORDER_LINE + b"O3,C1,,,,2024-05-01 10:00:00,web,completed,USD,1,0,x\n"
    raw = minimal_folder(spark_staging["root"] / "ragged", spark_staging["duck"].raw_dir, orders)
    message = landing_error(spark_staging, raw)
    assert "Malformed" in message and f"{raw}/orders.csv" in message, message
