"""The project's Python steps on Spark, run between two dbt selections (docs/scale_out.md).

dbt-spark runs Python models only by submitting them to Databricks (`job_cluster` /
`all_purpose_cluster`); on `method: session` or thrift it cannot run them. So on Spark the
Python steps are this module, run in the SparkSession that holds the tables of the first
selection: each step reads its inputs with `spark.table("<schema>.<name>")` (the names `ref()`
renders on the spark target) and writes its output table under the name the DuckDB path's
dbt Python model has, so the second selection's `ref()`s find it.

    dbt run --target spark --select <upstream>     (in-process: dbtRunner, method: session)
    run_steps(spark, ["components", "clv", "churn"])
    dbt run --target spark --select <downstream>

`python -m segwarehouse.scale_out ... --steps components,clv,churn [dbt command]` runs the
steps on the inputs registered from a DuckDB build (standing in for the first selection),
then the dbt command.

Steps (each over the same tested functions as the dbt Python model it stands in for):

* ``components``: int_identity_components by `resolve_components_on_spark` (large-star /
  small-star joins; nothing collected to the driver);
* ``clv``: clv_model_params fitted on the driver from customer_rfm's 4 CLV columns, then
  customer_clv scored on the executors (`clv_on_spark` -> `predict_clv`);
* ``churn``: int_churn_model fitted on the driver from the training snapshot rows (always
  refitted: the DuckDB model's keep-the-period's-fit cache is not carried over), then
  customer_churn_scores scored on the executors (`churn_scores_on_spark` -> `scores_of_model`).

Not covered: audit.model_runs (the run log is DuckDB's), the clusters, lookalikes, metrics,
feature importance and campaign models (docs/scale_out.md says why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from segwarehouse.ml import churn, clv

if TYPE_CHECKING:  # pragma: no cover - only for type hints
    from pyspark.sql import DataFrame, SparkSession

# var identity__max_component_size (dbt_project.yml) is 50.
DEFAULT_MAX_COMPONENT_SIZE = 50


class StepInputError(ValueError):
    """A step's input table is missing or unusable on Spark."""


def as_of_date_of(spark: SparkSession) -> str:
    """as_of_date of intermediate.int_run_context's one row, as 'YYYY-MM-DD'."""
    rows = table(spark, "intermediate.int_run_context").selectExpr(
        "cast(as_of_date as string) as as_of_date"
    )
    values = [row["as_of_date"] for row in rows.limit(2).collect()]
    if len(values) != 1 or values[0] is None:
        raise StepInputError(
            f"intermediate.int_run_context holds {len(values)} rows, expected one with an "
            "as_of_date: run the first dbt selection (it builds int_run_context) first"
        )
    return str(values[0])


def table(spark: SparkSession, name: str) -> DataFrame:
    """A registered table, or an error naming it and what builds it."""
    if not spark.catalog.tableExists(name):
        raise StepInputError(
            f"{name} is not in the Spark catalog: run the dbt selection that builds it (or "
            "register it with segwarehouse.scale_out) before this step"
        )
    return spark.table(name)


def save(frame: DataFrame, name: str) -> None:
    """Write `frame` as managed parquet table `name`, replacing it (a table of that name
    registered over a DuckDB export is dropped first, its file left alone)."""
    schema = name.split(".")[0]
    frame.sparkSession.sql(f"create database if not exists {schema}")
    frame.sparkSession.sql(f"drop table if exists {name}")
    frame.write.mode("overwrite").format("parquet").saveAsTable(name)


def components_step(spark: SparkSession, max_size: int = DEFAULT_MAX_COMPONENT_SIZE) -> None:
    """intermediate.int_identity_components from the nodes and both edge tables."""
    from segwarehouse.identity.spark_components import resolve_components_on_spark

    columns = ("node_id_a", "node_id_b", "match_method", "first_record_type")
    nodes = table(spark, "intermediate.int_identity_nodes").where("forms_edges")
    edges = (
        table(spark, "intermediate.int_identity_edges")
        .select(*columns)
        .unionByName(table(spark, "intermediate.int_identity_probabilistic_links").select(*columns))
    )
    result = resolve_components_on_spark(nodes.select("node_id"), edges, max_size)
    save(result, "intermediate.int_identity_components")


def clv_step(spark: SparkSession, settings: clv.ClvSettings | None = None) -> None:
    """marts.clv_model_params (fitted on the driver) and marts.customer_clv (executors)."""
    from segwarehouse.ml.spark_scoring import CLV_INPUT_COLUMNS, clv_on_spark

    settings = settings or clv.ClvSettings()  # the defaults are the ml__clv_* vars
    as_of_date = as_of_date_of(spark)
    rfm = table(spark, "marts.customer_rfm").select(*CLV_INPUT_COLUMNS)
    parameters = clv.fit_clv_parameters(rfm.toPandas(), as_of_date)
    save(
        spark.createDataFrame(parameters, _ddl(clv.PARAMS_SCHEMA)).withColumn(
            "fitted_at", _date("fitted_at")
        ),
        "marts.clv_model_params",
    )
    save(clv_on_spark(rfm, parameters, as_of_date, settings), "marts.customer_clv")


def churn_step(spark: SparkSession, settings: churn.ChurnSettings | None = None) -> None:
    """intermediate.int_churn_model (fitted on the driver on at most
    settings.max_training_customers training rows) and marts.customer_churn_scores."""
    from segwarehouse.ml.spark_scoring import churn_scores_on_spark

    settings = settings or churn.ChurnSettings()  # the defaults are the ml__churn_* vars
    as_of_date = as_of_date_of(spark)
    snapshots = table(spark, "intermediate.int_churn_feature_snapshots")
    columns = [name.strip() for name in churn.SNAPSHOT_COLUMNS.split(",")]
    rows = snapshots.where("snapshot_name = 'training'").select(*columns).toPandas()
    training = churn.frames_from_snapshots(rows, as_of_date, settings)[0]
    model = churn.model_row(training, settings)
    save(
        spark.createDataFrame(model, _ddl(churn.MODEL_SCHEMA)).withColumn(
            "training_cutoff_date", _date("training_cutoff_date")
        ),
        "intermediate.int_churn_model",
    )
    model_bytes = model["model_bytes"].iloc[0]
    version = model["model_version"].iloc[0]
    scores = churn_scores_on_spark(snapshots, model_bytes, version, as_of_date, settings)
    save(scores, "marts.customer_churn_scores")


STEPS: dict[str, Callable[[SparkSession], None]] = {
    "components": components_step,
    "clv": clv_step,
    "churn": churn_step,
}


def run_steps(spark: SparkSession, names: Sequence[str]) -> None:
    """The named steps in order, in `spark` (the session dbt-spark's selections use)."""
    unknown = [name for name in names if name not in STEPS]
    if unknown:
        raise StepInputError(f"unknown step(s) {unknown}: choose from {sorted(STEPS)}")
    for name in names:
        STEPS[name](spark)


def _ddl(schema: dict[str, str]) -> str:
    from segwarehouse.ml.spark_scoring import spark_ddl

    return spark_ddl(schema)


def _date(name: str) -> object:
    from pyspark.sql import functions as F

    return F.to_date(name)
