"""The scale-out path: run the project's SQL layers on dbt-spark with a local Spark session.

Inputs come from a DuckDB-built warehouse: every table and view of the chosen schemas is
exported to one parquet file (``<out>/<schema>/<name>.parquet``) and registered in the Spark
session's catalog under the same ``<schema>.<name>`` that dbt's ``ref()`` / ``source()``
render on the ``spark`` target, so a model run on Spark reads exactly what the DuckDB build
read. dbt then runs in this process (``dbtRunner``): dbt-spark's ``method: session`` takes
the active SparkSession (``getOrCreate``), so the in-memory catalog with the registered
inputs is the one the models see. pyspark and dbt-spark are the optional extra ``[spark]``;
nothing here is imported by the DuckDB path. See docs/scale_out.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # pragma: no cover - only for type hints
    from pyspark.sql import SparkSession

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Schemas a DuckDB build writes (generate_schema_name keeps the layer names as they are).
DEFAULT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "audit")


@dataclass(frozen=True)
class InputTable:
    """One relation exported from DuckDB: where it lives in both engines."""

    schema: str
    name: str
    path: Path

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def duckdb_relations(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> list[tuple]:
    """(schema, name) of every table and view of `schemas` in the open warehouse, sorted."""
    placeholders = ", ".join("?" for _ in schemas)
    return con.execute(
        "select schema_name, table_name from duckdb_tables() "
        f"where database_name = current_database() and schema_name in ({placeholders}) "
        "union all "
        "select schema_name, view_name from duckdb_views() "
        f"where database_name = current_database() and schema_name in ({placeholders}) "
        "and not internal order by 1, 2",
        [*schemas, *schemas],
    ).fetchall()


def export_warehouse(
    warehouse: Path,
    out_dir: Path,
    schemas: Sequence[str] = DEFAULT_SCHEMAS,
    raw_dir: Path | None = None,
    names: Iterable[str] | None = None,
) -> list[InputTable]:
    """Write every table and view of `schemas` to `<out_dir>/<schema>/<name>.parquet`.

    The `raw` views read the landing folder by its path at build time: pass `raw_dir` (the
    build's SEGMENTS_RAW_DIR) when it is not where the views expect it, or leave `raw` out.
    Timestamps with a time zone are written as UTC instants; Spark reads them back as
    TIMESTAMP in its (UTC) session zone. `names` limits the export to those relations (each
    registration is a Spark job reading the file's footer: register what a selection reads).
    """
    wanted = set(names) if names is not None else None
    tables: list[InputTable] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        if raw_dir is not None:
            con.execute("set file_search_path = ?", [str(raw_dir)])
        for schema, name in duckdb_relations(con, schemas):
            if wanted is not None and name not in wanted:
                continue
            target = out_dir / schema / f"{name}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f'copy (select * from "{schema}"."{name}") to \'{target}\' (format parquet)'
            )
            tables.append(InputTable(schema, name, target))
    return tables


def exported_tables(out_dir: Path) -> list[InputTable]:
    """The tables an earlier `export_warehouse` wrote to `out_dir`."""
    return [
        InputTable(path.parent.name, path.stem, path)
        for path in sorted(out_dir.glob("*/*.parquet"))
    ]


def local_spark_session(warehouse_dir: Path, cores: int = 2) -> SparkSession:
    """A local SparkSession with an in-memory catalog, UTC, small shuffles, no UI."""
    from pyspark.sql import SparkSession

    warehouse_dir.mkdir(parents=True, exist_ok=True)
    # Python workers (mapInPandas scoring) run this interpreter unless PYSPARK_PYTHON says
    # otherwise, not the first python3 on PATH (which may lack pandas and the project).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("segments-scale-out")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .config("spark.sql.session.timeZone", "UTC")
        # DuckDB writes TIMESTAMP as parquet timestamps not adjusted to UTC, which Spark would
        # read as TIMESTAMP_NTZ; the project's timestamps are UTC, Spark's TIMESTAMP.
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


def register_inputs(spark: SparkSession, tables: Iterable[InputTable]) -> None:
    """Register each exported parquet file as table `<schema>.<name>` (replacing any)."""
    for table in tables:
        spark.sql(f"create database if not exists {table.schema}")
        spark.sql(f"drop table if exists {table.qualified}")
        spark.sql(f"drop view if exists {table.qualified}")
        spark.sql(f"create table {table.qualified} using parquet location '{table.path}'")


def run_dbt(args: Sequence[str], dbt_vars: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """`dbt <args> --target spark` in this process (the active SparkSession is reused)."""
    import json

    from dbt.cli.main import dbtRunner

    command = [*args, "--target", "spark", "--project-dir", str(PROJECT_DIR)]
    command += ["--profiles-dir", str(PROJECT_DIR)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    result = dbtRunner().invoke(command)
    return result.success, result.result


def node_statuses(result: Any) -> dict[str, tuple[str, str]]:
    """model name -> (status, first line of the message) from a dbtRunner result."""
    statuses: dict[str, tuple[str, str]] = {}
    for node_result in getattr(result, "results", None) or []:
        message = str(node_result.message or "").strip().splitlines()
        statuses[node_result.node.name] = (str(node_result.status), message[0] if message else "")
    return statuses


def audit_models(
    selector: Sequence[str], dbt_options: Sequence[str], dbt_vars: dict[str, Any] | None
) -> dict[str, tuple[str, str]]:
    """Run each selected model on its own (`dbt run --select <model>`), so that a failure is
    reported per model instead of skipping its children: every model reads its parents as
    registered from the DuckDB build."""
    from dbt.cli.main import dbtRunner

    listed = dbtRunner().invoke(
        [
            "ls",
            "--resource-type",
            "model",
            "--output",
            "name",
            "--select",
            *selector,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target",
            "spark",
            *dbt_options,
        ]
    )
    statuses: dict[str, tuple[str, str]] = {}
    for name in listed.result or []:
        _, result = run_dbt(["run", "--select", name, *dbt_options], dbt_vars)
        statuses[name] = node_statuses(result).get(name, ("not run", str(result)[:200]))
        print(f"AUDIT\t{name}\t{statuses[name][0]}\t{statuses[name][1]}", flush=True)
    return statuses


def main(argv: Sequence[str] | None = None) -> int:
    """Export a DuckDB warehouse, register it in local Spark, run a dbt selection there."""
    parser = argparse.ArgumentParser(prog="python -m segwarehouse.scale_out", description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB-built warehouse")
    parser.add_argument("--work-dir", type=Path, required=True, help="parquet + spark warehouse")
    parser.add_argument("--raw-dir", type=Path, help="landing folder of the DuckDB build")
    parser.add_argument("--reuse-inputs", action="store_true", help="skip the export if done")
    parser.add_argument("--vars", default=None, help="dbt vars as JSON (e.g. as_of_date)")
    parser.add_argument("--inputs", help="comma-separated relation names to register (all)")
    parser.add_argument("--audit", help="a model selector: run each of its models on its own")
    parser.add_argument(
        "--steps", help="Python steps to run before the dbt command (segwarehouse.spark_steps)"
    )
    parser.add_argument("dbt_args", nargs="*", help="dbt command, e.g. run --select customer_rfm")
    args, dbt_options = parser.parse_known_args(argv)
    args.dbt_args += dbt_options
    import json

    # The catalog is in memory: tables a previous process wrote are orphaned files that would
    # block dbt's `create table` (LOCATION_ALREADY_EXISTS), so the session starts empty.
    spark_warehouse = args.work_dir / "spark-warehouse"
    shutil.rmtree(spark_warehouse, ignore_errors=True)
    inputs = args.work_dir / "inputs"
    started = time.perf_counter()
    names = args.inputs.split(",") if args.inputs else None
    if args.reuse_inputs and inputs.exists():
        tables = [t for t in exported_tables(inputs) if names is None or t.name in names]
    else:
        tables = export_warehouse(args.warehouse, inputs, raw_dir=args.raw_dir, names=names)
    print(f"{len(tables)} inputs exported in {time.perf_counter() - started:.1f} s")
    spark = local_spark_session(spark_warehouse)
    register_inputs(spark, tables)
    print(f"spark session and inputs ready in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    dbt_vars = json.loads(args.vars) if args.vars else None
    if args.audit:  # one `dbt run` per model of the selector, each on its registered parents
        statuses = audit_models(args.audit.split(), args.dbt_args, dbt_vars)
        failed = sum(status != "success" for status, _ in statuses.values())
        print(f"audit: {len(statuses) - failed} of {len(statuses)} models ran on spark")
        return 0
    if args.steps:
        from segwarehouse.spark_steps import run_steps

        run_steps(spark, args.steps.split(","))
        print(f"python steps {args.steps} in {time.perf_counter() - started:.1f} s")
        if not args.dbt_args:
            return 0
        started = time.perf_counter()
    success, result = run_dbt(args.dbt_args, dbt_vars)
    print(f"dbt on spark: success={success} in {time.perf_counter() - started:.1f} s")
    for name, (status, message) in node_statuses(result).items():
        print(f"{name}\t{status}\t{message}")
    return 0 if success else 1


if __name__ == "__main__":
    raise SystemExit(main())
