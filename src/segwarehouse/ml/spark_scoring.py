"""Score the fitted ML models on Spark executors with the DuckDB path's scoring functions.

The models are fitted on the driver, as on DuckDB, from the per-customer table (the churn
model from int_churn_feature_snapshots' training rows, at most ml__churn_max_training_customers
of them; BG/NBD and Gamma-Gamma from customer_rfm); what is distributed is scoring, which is
row by row. Each partition's rows reach Python as Arrow batches (`mapInPandas`) and go through
the very functions the dbt Python models call:

* churn: `churn.scoring_frame` then `churn.scores_of_model` (what `score_with_model` runs), the
  pickled model unpickled once per partition;
* CLV: `clv.predict_clv` with the fitted parameters (a handful of numbers) in the closure.

So a score on Spark is the DuckDB path's score of the same row (tests/python/test_spark_python_
steps.py compares every customer to 1e-9). Output columns and types are the DuckDB tables'
(SCORES_SCHEMA, CLV_SCHEMA); as_of_date leaves Python as an ISO string and is cast to DATE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segwarehouse.ml import churn, clv
from segwarehouse.ml.model_cache import load_model

# The project's schema dicts (SCORES_SCHEMA, CLV_SCHEMA, ...) in Spark DDL; date columns are
# strings inside the UDF and cast afterwards.
SPARK_TYPES = {
    "varchar": "string",
    "double": "double",
    "integer": "int",
    "bigint": "bigint",
    "boolean": "boolean",
    "date": "string",
    "timestamp": "timestamp",
    "blob": "binary",
}


def spark_ddl(schema: Mapping[str, str]) -> str:
    """`name type, ...` of a project schema dict, as mapInPandas declares its output."""
    unknown = sorted({kind for kind in schema.values() if kind not in SPARK_TYPES})
    if unknown:
        raise ValueError(f"no Spark type for {unknown}: add it to SPARK_TYPES")
    return ", ".join(f"{name} {SPARK_TYPES[kind]}" for name, kind in schema.items())


def map_batches(
    frame: DataFrame,
    score: Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]],
    schema: Mapping[str, str],
) -> DataFrame:
    """`frame` scored by `score` on the executors, with the columns and types of `schema`."""
    scored = frame.mapInPandas(score, spark_ddl(schema))
    dates = [name for name, kind in schema.items() if kind == "date"]
    return scored.select(
        *[F.to_date(name).alias(name) if name in dates else F.col(name) for name in schema]
    )


def churn_scores_on_spark(
    snapshots: DataFrame,
    model_bytes: bytes | None,
    version: str | None,
    as_of_date: date | str,
    settings: churn.ChurnSettings,
) -> DataFrame:
    """customer_churn_scores (SCORES_SCHEMA) of the scoring rows of `snapshots`
    (int_churn_feature_snapshots as a Spark DataFrame); no rows when there is no model."""
    rows = snapshots.where(F.col("snapshot_name") == "scoring").select(
        "customer_key", *churn.FEATURES
    )

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = load_model(model_bytes) if model_bytes is not None else None
        for batch in batches:
            current = churn.scoring_frame(batch)
            yield churn.scores_of_model(model, version, current, as_of_date, settings)

    return map_batches(rows, score, churn.SCORES_SCHEMA)


CLV_INPUT_COLUMNS = (
    "customer_key",
    "frequency",
    "recency_clv_days",
    "age_clv_days",
    "monetary_clv",
)


def clv_on_spark(
    rfm: DataFrame, parameters: pd.DataFrame, as_of_date: str, settings: clv.ClvSettings
) -> DataFrame:
    """customer_clv (CLV_SCHEMA) of `rfm` (customer_rfm as a Spark DataFrame) from the fitted
    parameters (clv_model_params' rows, a pandas frame on the driver)."""
    parameters = parameters.copy()

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield clv.predict_clv(batch, parameters, as_of_date, settings)

    return map_batches(rfm.select(*CLV_INPUT_COLUMNS), score, clv.CLV_SCHEMA)
