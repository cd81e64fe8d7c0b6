"""A plain Splink 5 dedupe of person records: the reference the project's matcher is held to.

Modelled on Splink's own FEBRL tutorial: blocking on several single strong fields, unioned;
Jaro-Winkler name comparisons (NameComparison), Splink's DateOfBirthComparison, Levenshtein
on postal code, Jaro-Winkler on street, exact city; prior from deterministic rules, u by
random sampling, m by EM on two blockings; clusters at a match-probability threshold. No
standardisation beyond what the comparisons do: this is what a user gets out of the box.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink import comparison_library as cl

# The fields both matchers see (crm_customers columns; e-mail and phone deliberately absent).
FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "birth_date",
    "street_address",
    "city",
    "postal_code",
)
BLOCKING_FIELDS: tuple[str, ...] = ("first_name", "last_name", "birth_date", "postal_code")


@dataclass(frozen=True)
class PlainSplinkResult:
    """Clusters (record_id, cluster_id), candidate pairs scored and wall seconds."""

    clusters: pd.DataFrame
    candidate_pairs: int
    seconds: float


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        blocking_rules_to_generate_predictions=[block_on(f) for f in BLOCKING_FIELDS],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.JaroWinklerAtThresholds("street_address", [0.9]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("postal_code", [1, 2]),
        ],
        retain_intermediate_calculation_columns=False,
    )


def plain_splink_dedupe(
    crm_customers: pd.DataFrame, threshold: float = 0.99, seed: int = 42
) -> PlainSplinkResult:
    """Dedupe crm_customers rows (customer_id and ``FIELDS``) with plain Splink 5 on DuckDB."""
    started = time.perf_counter()
    records = crm_customers.rename(columns={"customer_id": "record_id"})[
        ["record_id", *FIELDS]
    ].copy()
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        db_api = DuckDBAPI(connection=con)
        splink_logger = logging.getLogger("splink")
        previous = splink_logger.level
        splink_logger.setLevel(logging.ERROR)
        try:
            linker = Linker(db_api.register(records), _settings(), log_level=None)
            linker.training.estimate_probability_two_random_records_match(
                [
                    block_on("first_name", "last_name", "birth_date"),
                    block_on("first_name", "last_name", "postal_code"),
                ],
                recall=0.9,
            )
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
            for rule in (block_on("birth_date"), block_on("postal_code")):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
            predictions = linker.inference.predict()
            (candidates,) = con.sql(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[
                0
            ]
            clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=threshold
            )
            clusters = clustered.as_pandas_dataframe()[["record_id", "cluster_id"]]
        finally:
            splink_logger.setLevel(previous)
    finally:
        con.close()
    return PlainSplinkResult(clusters, int(candidates), time.perf_counter() - started)
