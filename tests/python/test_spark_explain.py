"""Every SQL model, compiled for the spark target, parses, analyses and plans on Spark
(issue #27, docs/scale_out.md): the DuckDB build of the generated data is exported to parquet
and registered in a local session, then `scale_out.explain_compiled` compiles every model in
this process and hands each compiled query to Spark. A DuckDB-only construct that slips into a
model or a macro it calls fails here naming the model and Spark's first error.

Needs the optional extra `.[spark]` and Java, like test_spark_portability.py; skipped, with
the reason, without them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import BUILD_VARS, Workspace

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
pytest.importorskip("dbt.adapters.spark", reason="dbt-spark is not installed (.[spark] extra)")
if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH: local Spark needs Java 17", allow_module_level=True)

from segwarehouse import scale_out  # imports pyspark lazily

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_every_sql_model_plans_on_spark(
    built: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("spark_explain")
    tables = scale_out.export_warehouse(built.warehouse, root / "inputs")
    spark = scale_out.local_spark_session(root / "spark-warehouse")
    try:
        scale_out.register_inputs(spark, tables)
        options = ["--target-path", str(root / "target"), "--log-path", str(root / "logs")]
        checks = scale_out.explain_compiled(spark, ["path:models"], options, BUILD_VARS)
    finally:
        spark.stop()
    models = sorted(path.stem for path in (PROJECT_DIR / "models").rglob("*.sql"))
    assert sorted(check.model for check in checks) == models
    failing = [
        f"{c.model}: {c.status}: {c.message}" for c in checks if c.status != scale_out.ANALYSES
    ]
    assert not failing, "models whose Spark SQL does not plan:\n" + "\n".join(failing)
