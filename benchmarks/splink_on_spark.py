"""The Splink identity model on DuckDB and on Splink's Spark backend, same records (issue #8).

Reference: ``link_person_records_with_model`` on a plain DuckDB connection, exactly the library
path the dbt model runs. Spark route, the smallest honest one found:

1. standardisation, prior and the choice of EM training blockings on DuckDB (the library's own
   functions; the standardisation SQL is DuckDB SQL, see ``try_standardisation_on_spark``);
2. the standardised table written to parquet and registered in a local SparkSession;
3. the library's ``_train`` (same comparisons, blocking rules, u sampling, EM with the m
   floor, adjustments) with ``splink.SparkAPI`` in place of the DuckDB API, then Splink's
   ``predict`` and the same threshold / agreeing-fields query, run by Spark.

Also tried on Spark and reported: the standardisation SQL, the prior SQL and the
training-blocking pair count (each as the library renders it for DuckDB).

    PYTHONPATH=src .venv-spark/bin/python benchmarks/splink_on_spark.py \
        --raw-dir /tmp/splinkspark/raw --work-dir /tmp/splinkspark/work

Needs pyspark 4 and Java 17; Splink's similarity-UDF jar comes from its wheel.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import re
import shutil
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pyspark.sql import SparkSession
from splink import SparkAPI
from splink.backends.spark import similarity_jar_location
from splink.internals.linker_components.training import LinkerTraining

from segwarehouse.identity import probabilistic as pm
from segwarehouse.sqltext import sql_literal

RECORDS = "person_records"
NICKNAMES_CSV = Path(__file__).resolve().parents[1] / "seeds/identity/first_name_nicknames.csv"


@dataclass
class BackendRun:
    """One backend's pairs above the threshold, parameters, timings (s), all scored pairs."""

    pairs: pd.DataFrame
    parameters: pd.DataFrame
    seconds: dict[str, float]
    candidates: pd.DataFrame | None = None


def load_records(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> int:
    """TEMP table ``person_records`` (``pm.INPUT_COLUMNS``) from the raw CRM file.

    Like stg_crm__customers in short: the latest version of each customer_id, birth date
    parsed (TRY_CAST), country as country_code. Returns the number of records.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {RECORDS} AS
        SELECT customer_id AS record_id, first_name, last_name,
               TRY_CAST(birth_date AS DATE) AS birth_date, street_address, postal_code, city,
               country AS country_code, email, phone
        FROM read_parquet({sql_literal(raw_dir / "crm_customers.parquet")})
        WHERE customer_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY customer_id
                                   ORDER BY updated_at DESC, created_at DESC) = 1
        """
    )
    ((count,),) = con.sql(f"SELECT count(*) FROM {RECORDS}").fetchall()
    return int(count)


def load_nicknames(path: Path = NICKNAMES_CSV) -> dict[str, str]:
    """The project's nickname seed as nickname -> canonical name."""
    with path.open(newline="") as handle:
        return {row["nickname"]: row["canonical_name"] for row in csv.DictReader(handle)}


def run_duckdb(raw_dir: Path, nicknames: dict[str, str], settings: pm.MatchSettings) -> BackendRun:
    """The library path, unchanged, on a fresh DuckDB connection."""
    con = duckdb.connect()
    load_records(con, raw_dir)
    start = time.perf_counter()
    result = pm.link_person_records_with_model(con, RECORDS, settings, nicknames)
    seconds = {"link_person_records_with_model": time.perf_counter() - start}
    con.close()
    return BackendRun(result.pairs, result.parameters, seconds)


CANDIDATE_COLUMNS = (
    "record_id_l, record_id_r, gamma_name, gamma_birth_date, gamma_address, match_weight, "
    "first_name_std_l, first_name_std_r, last_name_std_l, last_name_std_r, "
    "birth_date_l, birth_date_r"
)


def duckdb_candidates(
    raw_dir: Path, nicknames: dict[str, str], settings: pm.MatchSettings
) -> pd.DataFrame:
    """Every candidate pair with its comparison vector, from the library's steps on DuckDB.

    The same steps as the library path (``pm._run``), but ``predict`` without a threshold, so
    the level each backend assigns to each pair can be compared.
    """
    con = duckdb.connect()
    load_records(con, raw_dir)
    scratch = pm._ScratchNames()
    record_count = pm._prepare(con, RECORDS, nicknames, scratch)
    rules = [k for k in pm.EM_TRAINING_BLOCKINGS if pm._pairs_sharing_keys(con, scratch.input, k)]
    found_pairs = pm._deterministic_pairs(con, scratch.input)
    with pm._quiet_splink():
        linker = pm._train(
            pm._TempTableDuckDBAPI(con), scratch.input, record_count, settings, found_pairs, rules
        )
        predictions = linker.inference.predict()
    frame = con.sql(f"SELECT {CANDIDATE_COLUMNS} FROM {predictions.physical_name}").df()
    con.close()
    return frame


def spark_session(work_dir: Path) -> SparkSession:
    """Local SparkSession (2 cores, 2 GB driver) with Splink's similarity UDF jar."""
    warehouse = work_dir / "spark-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("splink_on_spark")
        .config("spark.driver.memory", "2g")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("OFF")
    spark.sparkContext.setCheckpointDir(str(work_dir / "checkpoints"))
    return spark


class _RecordingConnection:
    """Stands in for a DuckDB connection to capture the SQL a library function executes."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, sql: str) -> None:
        self.statements.append(sql)


class _SparkConnection:
    """The two methods of a DuckDB connection that the library's counting helpers use."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def sql(self, sql: str) -> _SparkConnection._Result:
        return self._Result(self.spark, sql)

    class _Result:
        def __init__(self, spark: SparkSession, sql: str) -> None:
            self.rows = [tuple(row) for row in spark.sql(sql).collect()]

        def fetchall(self) -> list[tuple[Any, ...]]:
            return self.rows


def _first_line(error: BaseException) -> str:
    """First line of an error message, with its class name."""
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"


def _attempt(label: str, action: Callable[[], Any], outcomes: dict[str, str]) -> Any:
    """Run ``action``; record 'ok' or its first error line under ``label``."""
    try:
        value = action()
    except Exception as error:
        outcomes[label] = _first_line(error)
        return None
    outcomes[label] = "ok"
    return value


def _strip_accents(text: str | None) -> str | None:
    """DuckDB's strip_accents for Spark: drop combining marks after NFD decomposition."""
    if text is None:
        return None
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


# Mechanical rewrites of the DuckDB standardisation SQL for Spark, applied one after another.
STANDARDISATION_REWRITES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("as rendered for DuckDB", lambda sql: sql),
    ("+ CAST(... AS VARCHAR) -> STRING", lambda sql: sql.replace("AS VARCHAR)", "AS STRING)")),
    ("+ strip_accents as a Python UDF", lambda sql: sql),
    ("+ regexp_replace without the 'g' flag", lambda sql: re.sub(r",\s*'g'\)", ")", sql)),
    (
        "+ count(DISTINCT) OVER () -> size(collect_set()) OVER ()",
        lambda sql: sql.replace(
            "count(DISTINCT birth_date_raw) OVER ()", "size(collect_set(birth_date_raw) OVER ())"
        ),
    ),
    ("+ '\\b' escaped for Spark string literals", lambda sql: sql.replace("\\b", "\\\\b")),
)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value as text, nulls as 'NULL', indexed by record_id (for equality checks)."""
    text = frame.astype(object).where(frame.notna(), "NULL").astype(str)
    return text.set_index("record_id")


def try_standardisation_on_spark(
    spark: SparkSession,
    con: duckdb.DuckDBPyConnection,
    standardised: str,
    nicknames: dict[str, str],
    outcomes: dict[str, str],
) -> None:
    """Run the library's standardisation SQL (DuckDB dialect) on Spark, rewritten step by step.

    Records each step's outcome; when a step runs, compares its output with the DuckDB table
    ``standardised`` (rows differing per column).
    """
    recorder = _RecordingConnection()
    scratch = pm._ScratchNames()
    pm._create_standardised_table(recorder, RECORDS, scratch.nicknames, scratch.input)  # type: ignore[arg-type]
    # the nickname table as the library builds it (cleaned keys), computed by DuckDB
    nickname_frame = pd.DataFrame(
        {"nickname": list(nicknames), "canonical": list(nicknames.values())}
    )
    con.register("nickname_source", nickname_frame)
    cleaned_nicknames = con.sql(
        f"SELECT {pm._clean_name_sql('nickname')} AS nickname, "
        f"min({pm._clean_name_sql('canonical')}) AS canonical FROM nickname_source "
        "GROUP BY 1 HAVING nickname IS NOT NULL AND canonical IS NOT NULL"
    ).df()
    spark.createDataFrame(cleaned_nicknames).createOrReplaceTempView(scratch.nicknames)
    sql = recorder.statements[0].split(" AS\n", 1)[1]
    expected = _as_text(
        con.sql(
            f"SELECT * REPLACE (CAST(birth_date AS VARCHAR) AS birth_date) FROM {standardised}"
        ).df()
    )
    for label, rewrite in STANDARDISATION_REWRITES:
        if "Python UDF" in label:
            spark.udf.register("strip_accents", _strip_accents)
        sql = rewrite(sql)
        frame = _attempt(
            f"standardisation SQL on Spark, {label}",
            lambda query=sql: spark.sql(query).toPandas(),
            outcomes,
        )
        if frame is None:
            continue
        frame = _as_text(frame).reindex(expected.index)
        differing = {
            column: int((frame[column] != expected[column]).sum()) for column in expected.columns
        }
        outcomes[f"standardisation SQL on Spark, {label}"] = (
            f"runs; rows differing from DuckDB per column: {differing}"
        )


def run_spark(
    spark: SparkSession,
    raw_dir: Path,
    work_dir: Path,
    nicknames: dict[str, str],
    settings: pm.MatchSettings,
    outcomes: dict[str, str],
) -> BackendRun:
    """DuckDB standardisation and prior, then Splink training and prediction on Spark."""
    seconds: dict[str, float] = {}
    con = duckdb.connect()
    load_records(con, raw_dir)
    scratch = pm._ScratchNames()

    start = time.perf_counter()
    record_count = pm._prepare(con, RECORDS, nicknames, scratch)
    training_rules = [
        keys
        for keys in pm.EM_TRAINING_BLOCKINGS
        if pm._pairs_sharing_keys(con, scratch.input, keys) > 0
    ]
    found_pairs = pm._deterministic_pairs(con, scratch.input)
    standardised = work_dir / "standardised.parquet"
    con.execute(f"COPY {scratch.input} TO {sql_literal(standardised)} (FORMAT parquet)")
    raw_records = work_dir / "records.parquet"
    con.execute(f"COPY {RECORDS} TO {sql_literal(raw_records)} (FORMAT parquet)")
    seconds["standardise + prior on DuckDB, export"] = time.perf_counter() - start

    start = time.perf_counter()
    spark.read.parquet(str(standardised)).createOrReplaceTempView(scratch.input)
    spark.read.parquet(str(raw_records)).createOrReplaceTempView(RECORDS)
    spark.table(scratch.input).cache().count()
    seconds["register inputs on Spark"] = time.perf_counter() - start

    try_standardisation_on_spark(spark, con, scratch.input, nicknames, outcomes)
    spark_con = _SparkConnection(spark)
    spark_prior = _attempt(
        "prior SQL (DuckDB-rendered) on Spark",
        lambda: pm._deterministic_pairs(spark_con, scratch.input),  # type: ignore[arg-type]
        outcomes,
    )
    if spark_prior is not None and spark_prior != found_pairs:
        outcomes["prior SQL (DuckDB-rendered) on Spark"] = (
            f"differs: {spark_prior} vs {found_pairs}"
        )
    _attempt(
        "training-blocking pair count (DuckDB-rendered) on Spark",
        lambda: pm._pairs_sharing_keys(spark_con, scratch.input, ("birth_date",)),  # type: ignore[arg-type]
        outcomes,
    )

    db_api = SparkAPI(spark_session=spark, break_lineage_method="persist")
    start = time.perf_counter()
    with pm._quiet_splink():
        linker = _attempt(
            "Splink training on SparkAPI (u sampling + EM)",
            lambda: pm._train(  # type: ignore[arg-type]
                db_api, scratch.input, record_count, settings, found_pairs, training_rules
            ),
            outcomes,
        )
    seconds["train (u + EM) on Spark"] = time.perf_counter() - start
    if linker is None:
        return BackendRun(pm.empty_pairs(), pm.empty_parameters(), seconds)
    parameters = pm._parameters_frame(linker)

    start = time.perf_counter()
    weight_floor = pm._probability_to_weight(settings.threshold) - 1e-6
    with pm._quiet_splink():
        predictions = _attempt(
            "Splink predict on SparkAPI",
            lambda: linker.inference.predict(threshold_match_weight=weight_floor),
            outcomes,
        )
    if predictions is None:
        return BackendRun(pm.empty_pairs(), parameters, seconds)
    query = f"""
        SELECT record_id_l, record_id_r,
               round(match_probability, {pm.SCORE_DECIMALS}) AS match_probability,
               round(match_weight, {pm.SCORE_DECIMALS}) AS match_weight,
               {{agreeing}} AS agreeing_fields
        FROM {predictions.physical_name}
        WHERE round(match_probability, {pm.SCORE_DECIMALS}) >= {settings.threshold!r}
        ORDER BY record_id_l, record_id_r
    """
    agreeing = pm._agreeing_fields_sql()
    pairs = _attempt(
        "agreeing_fields SQL (DuckDB-rendered) on Spark",
        lambda: spark.sql(query.format(agreeing=agreeing)).toPandas(),
        outcomes,
    )
    if pairs is None:
        # Splink's own Spark levels use the jar's jaro_winkler; use it here too.
        agreeing = agreeing.replace("jaro_winkler_similarity(", "jaro_winkler(")
        pairs = spark.sql(query.format(agreeing=agreeing)).toPandas()
    seconds["predict + collect on Spark"] = time.perf_counter() - start
    con.close()
    with pm._quiet_splink():
        everything = linker.inference.predict()
    candidates = spark.sql(f"SELECT {CANDIDATE_COLUMNS} FROM {everything.physical_name}")
    return BackendRun(pairs, parameters, seconds, candidates.toPandas())


def _compare_candidates(duck: pd.DataFrame | None, spark: pd.DataFrame | None) -> dict[str, Any]:
    """Candidate pairs of both backends: same set? same comparison levels? weights?"""
    if duck is None or spark is None:
        return {}
    keys = ["record_id_l", "record_id_r"]
    merged = duck.merge(spark, on=keys, how="outer", suffixes=("_duckdb", "_spark"))
    both = merged.dropna(subset=["match_weight_duckdb", "match_weight_spark"])
    result: dict[str, Any] = {
        "candidates_duckdb": len(duck),
        "candidates_spark": len(spark),
        "candidates_in_both": len(both),
        "candidates_max_abs_weight_diff": float(
            (both["match_weight_duckdb"] - both["match_weight_spark"]).abs().max()
        ),
    }
    examples = []
    for gamma in ("gamma_name", "gamma_birth_date", "gamma_address"):
        differing = both[both[f"{gamma}_duckdb"] != both[f"{gamma}_spark"]]
        result[f"candidates_with_different_{gamma}"] = len(differing)
        examples.append(differing.head(5))
    result["gamma_examples"] = pd.concat(examples)
    return result


def compare(duck: BackendRun, spark: BackendRun) -> dict[str, Any]:
    """Agreement of the two runs: pairs above the threshold and trained parameters."""
    keys = ["record_id_l", "record_id_r"]
    merged = duck.pairs.merge(spark.pairs, on=keys, how="outer", suffixes=("_duckdb", "_spark"))
    both = merged.dropna(subset=["match_probability_duckdb", "match_probability_spark"])
    probability_gap = (both["match_probability_duckdb"] - both["match_probability_spark"]).abs()
    weight_gap = (both["match_weight_duckdb"] - both["match_weight_spark"]).abs()
    levels = duck.parameters.merge(
        spark.parameters, on=["comparison", "level"], suffixes=("_duckdb", "_spark")
    )
    levels = levels[levels["comparison"] != pm.PRIOR_PARAMETER]
    levels = levels[~levels["is_null_level_duckdb"].astype(bool)]
    m_gap = (levels["m_probability_duckdb"] - levels["m_probability_spark"]).abs()
    u_ratio = (levels["u_probability_duckdb"] / levels["u_probability_spark"]).map(math.log2)
    w_gap = (levels["match_weight_duckdb"] - levels["match_weight_spark"]).abs()
    candidates = _compare_candidates(duck.candidates, spark.candidates)
    return {
        **candidates,
        "pairs_duckdb": len(duck.pairs),
        "pairs_spark": len(spark.pairs),
        "pairs_in_both": len(both),
        "pairs_only_duckdb": int(merged["match_probability_spark"].isna().sum()),
        "pairs_only_spark": int(merged["match_probability_duckdb"].isna().sum()),
        "max_abs_probability_diff": float(probability_gap.max()) if len(both) else None,
        "max_abs_weight_diff": float(weight_gap.max()) if len(both) else None,
        "agreeing_fields_equal": int(
            (both["agreeing_fields_duckdb"] == both["agreeing_fields_spark"]).sum()
        ),
        "levels_compared": len(levels),
        "max_abs_m_diff": float(m_gap.max()),
        "max_abs_log2_u_ratio": float(u_ratio.abs().max()),
        "max_abs_level_weight_diff": float(w_gap.max()),
        "level_weight_diffs": levels.assign(weight_diff=w_gap)[
            [
                "comparison",
                "level",
                "m_probability_duckdb",
                "m_probability_spark",
                "u_probability_duckdb",
                "u_probability_spark",
                "match_weight_duckdb",
                "match_weight_spark",
                "weight_diff",
            ]
        ],
        "only_pairs": merged[
            merged["match_probability_duckdb"].isna() | merged["match_probability_spark"].isna()
        ],
    }


def count_u_on_every_chunk() -> None:
    """Make Splink's u estimation count every chunk (``min_count_per_level=None``), both backends.

    Splink 5 estimates u per comparison in chunks of the right-hand records (split by the
    dialect's hash) and stops once every level has 100 observations, so even a u "sample" of
    all pairs counts a backend-dependent subset for comparisons whose levels are all common
    (birth date here). Benchmark-only switch; the library keeps Splink's default.
    """
    original = LinkerTraining.estimate_u_using_random_sampling

    def every_chunk(self: LinkerTraining, max_pairs: float = 1e6, seed: int | None = None) -> None:
        original(self, max_pairs=max_pairs, seed=seed, min_count_per_level=None)

    LinkerTraining.estimate_u_using_random_sampling = every_chunk  # type: ignore[method-assign]


def main() -> None:
    """Run both backends on the same records and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True, help="generator output (parquet)")
    parser.add_argument("--work-dir", type=Path, required=True, help="scratch directory")
    parser.add_argument("--threshold", type=float, default=pm.DEFAULT_SETTINGS.threshold)
    parser.add_argument(
        "--max-pairs-for-u",
        type=float,
        default=pm.DEFAULT_SETTINGS.max_pairs_for_u,
        help="at least n(n-1)/2 to compute u from all pairs (no hash sample, same on both)",
    )
    parser.add_argument(
        "--u-every-chunk",
        action="store_true",
        help="u from every chunk (Splink's min_count_per_level=None), on both backends",
    )
    args = parser.parse_args()
    if args.u_every_chunk:
        count_u_on_every_chunk()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger(pm.__name__).setLevel(logging.INFO)
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    settings = pm.MatchSettings(threshold=args.threshold, max_pairs_for_u=args.max_pairs_for_u)
    nicknames = load_nicknames()

    with duckdb.connect() as con:
        record_count = load_records(con, args.raw_dir)
    duck = run_duckdb(args.raw_dir, nicknames, settings)
    duck.candidates = duckdb_candidates(args.raw_dir, nicknames, settings)

    start = time.perf_counter()
    spark = spark_session(args.work_dir)
    jvm_seconds = time.perf_counter() - start
    outcomes: dict[str, str] = {}
    try:
        spark_run = run_spark(spark, args.raw_dir, args.work_dir, nicknames, settings, outcomes)
    finally:
        spark.stop()
    spark_run.seconds = {"start SparkSession (JVM)": jvm_seconds, **spark_run.seconds}

    print(
        f"\n== Splink on DuckDB vs Spark: {record_count} records, threshold {args.threshold}, "
        f"max_pairs_for_u {args.max_pairs_for_u:g}, u from every chunk: {args.u_every_chunk}"
    )
    print(f"Spark {spark.version}; UDF jar {Path(similarity_jar_location()).name}")
    for label, outcome in outcomes.items():
        print(f"  {label}: {outcome}")
    for name, run in (("DuckDB", duck), ("Spark", spark_run)):
        timings = ", ".join(f"{step} {value:.1f} s" for step, value in run.seconds.items())
        print(f"{name}: {timings}")
    if spark_run.parameters.empty:
        print("Spark produced no model: nothing to compare")
        return
    result = compare(duck, spark_run)
    for key, value in result.items():
        if not isinstance(value, pd.DataFrame):
            print(f"  {key}: {value}")
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(result["level_weight_diffs"].to_string(index=False, float_format="{:.4g}".format))
        if not result["only_pairs"].empty:
            print(result["only_pairs"].to_string(index=False))
        if "gamma_examples" in result and not result["gamma_examples"].empty:
            columns = [c for c in result["gamma_examples"].columns if not c.startswith("match")]
            print(result["gamma_examples"][columns].T.to_string())


if __name__ == "__main__":
    main()
