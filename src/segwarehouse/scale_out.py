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
DEFAULT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "reference", "audit", "activation")


# Set by register_inputs: the session's relations come from a DuckDB build's export, so dbt's
# on-run-start hook leaves the raw layer alone (spark__register_raw_sources reads it).
INPUTS_ENV = "SEGMENTS_SPARK_INPUTS"


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


def landing_session(raw_dir: Path, work_dir: Path, cores: int = 2) -> SparkSession:
    """A local session for a build from the landing folder `raw_dir`: dbt's on-run-start
    hook (`spark__register_raw_sources`) registers its files as the raw relations. The
    catalog is in memory, so the scratch warehouse of an earlier process is emptied first."""
    os.environ["SEGMENTS_RAW_DIR"] = str(raw_dir)
    os.environ.pop(INPUTS_ENV, None)
    spark_warehouse = work_dir / "spark-warehouse"
    shutil.rmtree(spark_warehouse, ignore_errors=True)
    return local_spark_session(spark_warehouse, cores)


def register_inputs(spark: SparkSession, tables: Iterable[InputTable]) -> None:
    """Register each exported parquet file as table `<schema>.<name>` (replacing any); dbt's
    raw-layer hook then leaves the session's relations as they are (INPUTS_ENV)."""
    os.environ[INPUTS_ENV] = "registered"
    for table in tables:
        spark.sql(f"create database if not exists {table.schema}")
        spark.sql(f"drop table if exists {table.qualified}")
        spark.sql(f"drop view if exists {table.qualified}")
        spark.sql(f"create table {table.qualified} using parquet location '{table.path}'")


def invoke_dbt(args: Sequence[str], dbt_vars: dict[str, Any] | None = None) -> Any:
    """`dbt <args> --target spark` in this process (the active SparkSession is reused); the
    dbtRunnerResult."""
    import json

    from dbt.cli.main import dbtRunner

    command = [*args, "--target", "spark", "--project-dir", str(PROJECT_DIR)]
    command += ["--profiles-dir", str(PROJECT_DIR)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    return dbtRunner().invoke(command)


def run_dbt(args: Sequence[str], dbt_vars: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """`dbt <args> --target spark` in this process: success and dbt's result."""
    result = invoke_dbt(args, dbt_vars)
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


# What `explain_compiled` says of one model's Spark-compiled SQL, from best to worst.
ANALYSES = "parses + analyses"
PARSE_ERROR = "parse error"
ANALYSIS_ERROR = "analysis error"
PLANNING_ERROR = "planning error"
COMPILE_ERROR = "compile error"


@dataclass(frozen=True)
class SqlCheck:
    """One model's SQL as dbt compiles it for the spark target, through Spark's parser and
    analyser: the status and the first line of the first error."""

    model: str
    status: str
    message: str = ""


def first_line(error: object) -> str:
    """The first non-empty line of an error message (Spark's start with [ERROR_CLASS])."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def compile_for_spark(
    selector: Sequence[str], dbt_options: Sequence[str], dbt_vars: dict[str, Any] | None
) -> dict[str, tuple[str | None, str]]:
    """`dbt compile --target spark --full-refresh` of the selection, in this process (the
    session's registered inputs answer the models' compile-time queries). model name ->
    (compiled SQL, "") or (None, the compile error). dbt stops a compile at the first model
    that fails to compile: that model is recorded and the compile runs again without it."""
    import re

    compiled: dict[str, tuple[str | None, str]] = {}
    failed: list[str] = []
    while True:
        exclude = ["--exclude", *failed] if failed else []
        invoked = invoke_dbt(
            ["compile", "--full-refresh", "--select", *selector, *exclude, *dbt_options],
            dbt_vars,
        )
        results = getattr(invoked.result, "results", None) or []
        if results or invoked.exception is None:
            break
        model = re.search(r"in model (\w+) \(", str(invoked.exception))
        if model is None or model.group(1) in failed:
            raise RuntimeError(f"dbt compile --target spark failed: {invoked.exception}")
        failed.append(model.group(1))
        message = str(invoked.exception).split(f"in model {model.group(1)}", 1)[-1]
        compiled[model.group(1)] = (None, first_line(message.split(")", 1)[-1]))
    for node_result in results:
        node = node_result.node
        if node.resource_type != "model" or getattr(node, "language", "sql") != "sql":
            continue
        if str(node_result.status) == "success":
            compiled[node.name] = (node.compiled_code, "")
        else:
            compiled[node.name] = (None, first_line(node_result.message))
    return compiled


def explain_sql(spark: SparkSession, sql: str) -> tuple[str, str]:
    """Status and first error of one query on Spark: parsed and analysed (`spark.sql` does
    both eagerly), then planned (the physical plan EXPLAIN prints, built here so that a
    planning error comes with its message)."""
    from pyspark.errors import AnalysisException, ParseException

    try:
        frame = spark.sql(sql)
    except ParseException as error:
        return PARSE_ERROR, first_line(error)
    except AnalysisException as error:
        return ANALYSIS_ERROR, first_line(error)
    try:
        frame._jdf.queryExecution().executedPlan()
    except Exception as error:  # py4j wraps the JVM's planning exception
        return PLANNING_ERROR, first_line(getattr(error, "java_exception", error))
    return ANALYSES, ""


def explain_compiled(
    spark: SparkSession,
    selector: Sequence[str],
    dbt_options: Sequence[str],
    dbt_vars: dict[str, Any] | None,
) -> list[SqlCheck]:
    """Every selected SQL model compiled for the spark target and checked by Spark, by name."""
    checks = []
    for name, (sql, error) in sorted(compile_for_spark(selector, dbt_options, dbt_vars).items()):
        if sql is None:
            checks.append(SqlCheck(name, COMPILE_ERROR, error))
        else:
            checks.append(SqlCheck(name, *explain_sql(spark, sql)))
        print(f"EXPLAIN\t{name}\t{checks[-1].status}\t{checks[-1].message}", flush=True)
    return checks


def write_checks(checks: Sequence[SqlCheck], path: Path) -> None:
    """The checks as a tab-separated file (model, status, first error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["model\tstatus\tmessage", *(f"{c.model}\t{c.status}\t{c.message}" for c in checks)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


# Columns stamped with the time of the run: they differ between any two builds.
RUN_TIME_COLUMNS = frozenset({"batch_run_started_at"})


@dataclass(frozen=True)
class RowComparison:
    """One model's Spark output against the DuckDB build's table, rows as multisets."""

    model: str
    duckdb_rows: int
    spark_rows: int
    only_in_duckdb: int
    only_in_spark: int
    columns_differ: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        return not (self.only_in_duckdb or self.only_in_spark or self.columns_differ)


def spark_output(spark: SparkSession, sql: str, out_dir: Path) -> Path:
    """Run one compiled model query on Spark and write its rows to parquet files in out_dir."""
    shutil.rmtree(out_dir, ignore_errors=True)
    spark.sql(f"insert overwrite directory '{out_dir}' using parquet select * from (\n{sql}\n)")
    return out_dir


# Columns compared to the millisecond: file modification times, which DuckDB's read_blob gives
# in microseconds and Spark's file listing (Hadoop's FileStatus) in milliseconds.
MILLISECOND_COLUMNS = frozenset({"file_modified"})
# Digits after the decimal point to which DOUBLE / FLOAT columns are compared: the two engines
# may sum in another order (exact DECIMALs are compared exactly).
FLOAT_DECIMALS = 12


def _compared(column: str, is_float: bool) -> str:
    """The select-list item by which `column` is compared (compare_output)."""
    if is_float:
        return f'round("{column}", {FLOAT_DECIMALS}) as "{column}"'
    if column in MILLISECOND_COLUMNS:
        return f'date_trunc(\'millisecond\', "{column}") as "{column}"'
    return f'"{column}"'


def compare_output(warehouse: Path, relation: str, name: str, out_dir: Path) -> RowComparison:
    """The parquet rows of `out_dir` against `relation` of the DuckDB warehouse: columns by
    name (a contract may reorder them), rows as multisets, run-time stamps left out, floats
    rounded to FLOAT_DECIMALS places, MILLISECOND_COLUMNS truncated to the millisecond."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{warehouse}' as built (read_only)")
        duck = f"built.{relation}"
        files = f"read_parquet('{out_dir}/*.parquet')"
        described = con.execute(f"describe {duck}").fetchall()
        columns = [row[0] for row in described]
        floats = {row[0] for row in described if row[1] in ("DOUBLE", "FLOAT")}
        spark_columns = [
            row[0] for row in con.execute(f"describe select * from {files}").fetchall()
        ]
        if sorted(columns) != sorted(spark_columns):
            differ = tuple(sorted(set(columns) ^ set(spark_columns)))
            return RowComparison(name, -1, -1, 0, 0, differ)
        kept = ", ".join(
            _compared(column, column in floats)
            for column in columns
            if column not in RUN_TIME_COLUMNS
        )
        left, right = f"select {kept} from {duck}", f"select {kept} from {files}"

        def count(sql: str) -> int:
            return con.execute(f"select count(*) from ({sql})").fetchone()[0]

        return RowComparison(
            name,
            count(left),
            count(right),
            count(f"{left} except all {right}"),
            count(f"{right} except all {left}"),
        )


def compare_relations(
    spark: SparkSession, warehouse: Path, relations: Sequence[str], out_dir: Path
) -> list[RowComparison]:
    """Each `<schema>.<name>` relation as Spark holds it against the same relation of the
    DuckDB warehouse (compare_output)."""
    comparisons = []
    for relation in relations:
        name = relation.split(".")[-1]
        output = spark_output(spark, f"select * from {relation}", out_dir / name)
        comparisons.append(compare_output(warehouse, relation, name, output))
    return comparisons


def compare_compiled(
    spark: SparkSession,
    warehouse: Path,
    models: Sequence[str],
    dbt_options: Sequence[str],
    dbt_vars: dict[str, Any] | None,
    out_dir: Path,
) -> list[RowComparison]:
    """Each model's Spark-compiled SQL run on Spark (on the registered DuckDB parents) and its
    rows compared with the model's table in the DuckDB build."""
    compiled = compile_for_spark(models, dbt_options, dbt_vars)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schemas = dict(
            con.execute(
                "select table_name, schema_name from duckdb_tables() "
                "union all select view_name, schema_name from duckdb_views() where not internal"
            ).fetchall()
        )
    comparisons = []
    for name in models:
        sql, error = compiled.get(name, (None, "not compiled"))
        if sql is None:
            raise RuntimeError(f"{name} does not compile for spark: {error}")
        output = spark_output(spark, sql, out_dir / name)
        comparisons.append(compare_output(warehouse, f"{schemas[name]}.{name}", name, output))
        print(f"COMPARE\t{comparisons[-1]}", flush=True)
    return comparisons


def run_from_landing(
    raw_dir: Path, work_dir: Path, dbt_args: Sequence[str], dbt_vars: dict[str, Any] | None
) -> int:
    """`dbt seed`, then `dbt <dbt_args>`, on Spark from the landing folder raw_dir, in one
    session (the in-memory catalog keeps the seeds for the second command)."""
    started = time.perf_counter()
    landing_session(raw_dir, work_dir)
    print(f"spark session ready in {time.perf_counter() - started:.1f} s")
    for args in (["seed"], list(dbt_args)):
        started = time.perf_counter()
        success, result = run_dbt(args, dbt_vars)
        print(f"dbt {args[0]} on spark: success={success} in {time.perf_counter() - started:.1f} s")
        failed = {n: s for n, s in node_statuses(result).items() if s[0] not in ("success", "pass")}
        for name, (status, message) in failed.items():
            print(f"{name}\t{status}\t{message}")
        if not success:
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Export a DuckDB warehouse, register it in local Spark, run a dbt selection there."""
    parser = argparse.ArgumentParser(prog="python -m segwarehouse.scale_out", description=__doc__)
    parser.add_argument("--warehouse", type=Path, help="DuckDB-built warehouse (the inputs)")
    parser.add_argument(
        "--landing",
        type=Path,
        help="build from this landing folder instead: dbt seed, then the dbt command, the raw "
        "layer registered by the on-run-start hook (spark__register_raw_sources)",
    )
    parser.add_argument("--work-dir", type=Path, required=True, help="parquet + spark warehouse")
    parser.add_argument("--raw-dir", type=Path, help="landing folder of the DuckDB build")
    parser.add_argument("--reuse-inputs", action="store_true", help="skip the export if done")
    parser.add_argument("--vars", default=None, help="dbt vars as JSON (e.g. as_of_date)")
    parser.add_argument("--inputs", help="comma-separated relation names to register (all)")
    parser.add_argument("--audit", help="a model selector: run each of its models on its own")
    parser.add_argument(
        "--steps", help="Python steps to run before the dbt command (segwarehouse.spark_steps)"
    )
    parser.add_argument(
        "--explain",
        help="a model selector: compile each SQL model for spark and check it with Spark "
        "(parse + analysis + plan); results to <work-dir>/explain.tsv",
    )
    parser.add_argument(
        "--compare",
        help="comma-separated models: run each one's Spark-compiled SQL and compare its rows "
        "with the DuckDB build's table",
    )
    parser.add_argument("dbt_args", nargs="*", help="dbt command, e.g. run --select customer_rfm")
    args, dbt_options = parser.parse_known_args(argv)
    args.dbt_args += dbt_options
    import json

    dbt_vars = json.loads(args.vars) if args.vars else None
    if args.landing is not None:
        return run_from_landing(args.landing, args.work_dir, args.dbt_args, dbt_vars)
    if args.warehouse is None:
        parser.error("give --warehouse (a DuckDB build's tables as inputs) or --landing")

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
    if args.compare:
        comparisons = compare_compiled(
            spark,
            args.warehouse,
            args.compare.split(","),
            args.dbt_args,
            dbt_vars,
            args.work_dir / "outputs",
        )
        return 0 if all(comparison.equal for comparison in comparisons) else 1
    if args.explain:
        checks = explain_compiled(spark, args.explain.split(), args.dbt_args, dbt_vars)
        write_checks(checks, args.work_dir / "explain.tsv")
        passed = sum(check.status == ANALYSES for check in checks)
        print(f"explain: {passed} of {len(checks)} models parse and analyse on spark")
        return 0
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
