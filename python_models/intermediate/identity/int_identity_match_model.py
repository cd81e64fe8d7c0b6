"""The probabilistic matcher's trained Splink model (JSON), trained once per retrain period.

Thin dbt model: training lives in segwarehouse.identity.probabilistic and the keep-or-train
rule in segwarehouse.identity.match_model, with their tests. While the previous build's row
has the current refit_key (retrain anchor, match settings, nickname map, library versions),
that row is kept and nothing is trained.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.identity.match_model import (
    CRM_PERSON_RECORDS,
    MATCH_MODEL_SCHEMA,
    match_model_row,
    match_refit_key,
)
from segwarehouse.identity.probabilistic import MatchSettings
from segwarehouse.ml.model_cache import previous_rows
from segwarehouse.ml.run_log import recorded_run
from segwarehouse.run_context import run_as_of_date


def model(dbt: Any, session: Any) -> Any:
    """One row: the retrain period's model (model_json null when there was nothing to train)."""
    dbt.config(materialized="table")
    customers_relation = dbt.ref("stg_crm__customers")
    nicknames_relation = dbt.ref("first_name_nicknames")
    context_relation = dbt.ref("int_run_context")
    settings = MatchSettings(threshold=float(dbt.config.get("match_probability_threshold")))
    nicknames = dict(nicknames_relation.project("nickname, canonical_name").fetchall())
    con = duckdb_connection(session)
    key = match_refit_key(
        run_as_of_date(context_relation),
        int(dbt.config.get("retrain_every_days")),
        settings,
        nicknames,
    )

    def compute() -> pd.DataFrame:
        row = previous_rows(con, dbt.this, key, MATCH_MODEL_SCHEMA, key_column="refit_key")
        if row is None:
            customers_relation.project(CRM_PERSON_RECORDS).create_view(
                "identity_training_records", replace=True
            )
            row = match_model_row(con, "identity_training_records", settings, nicknames, key)
        return row

    # Not optional: an error stops the build (no mart is right without customer keys).
    return recorded_run(
        con,
        "int_identity_match_model",
        context_relation,
        MATCH_MODEL_SCHEMA,
        compute,
        produced=lambda row: bool(row["model_json"].notna().any()),
        note=untrained_note,
        optional=False,
    )


def untrained_note(row: pd.DataFrame) -> str | None:
    """Why no match model was trained (None when one was)."""
    if row["model_json"].notna().any():
        return None
    return (
        f"not trained: {int(row['record_count'].sum())} CRM person records share no blocking "
        "key (fewer than two records, or no candidate pairs); no probabilistic links"
    )
