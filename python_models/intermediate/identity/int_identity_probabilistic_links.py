"""Probabilistic links between CRM person records that share no identifier (Splink, DuckDB).

Thin dbt model: blocking rules, comparisons and training live in
segwarehouse.identity.probabilistic, with their tests. Today's records are scored with the
retrain period's model from int_identity_match_model (trained here only if it has none).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segwarehouse.dbt_session import duckdb_connection
from segwarehouse.identity.match_model import CRM_PERSON_RECORDS
from segwarehouse.identity.probabilistic import MatchSettings, link_person_records_with_model
from segwarehouse.ml.run_log import recorded_run

LINK_SCHEMA = {
    "node_id_a": "varchar",
    "node_id_b": "varchar",
    "match_method": "varchar",
    "first_record_type": "varchar",
    "match_probability": "double",
    "match_weight": "double",
    "agreeing_fields": "varchar",
}


def model(dbt: Any, session: Any) -> Any:
    """One row per linked pair of CRM customer_ids, as edges between customer_id nodes."""
    dbt.config(materialized="table")
    customers_relation = dbt.ref("stg_crm__customers")
    nicknames_relation = dbt.ref("first_name_nicknames")
    model_relation = dbt.ref("int_identity_match_model")
    context_relation = dbt.ref("int_run_context")
    settings = MatchSettings(threshold=float(dbt.config.get("match_probability_threshold")))

    con = duckdb_connection(session)

    def compute() -> pd.DataFrame:
        customers_relation.project(CRM_PERSON_RECORDS).create_view(
            "identity_person_records", replace=True
        )
        nicknames = dict(nicknames_relation.project("nickname, canonical_name").fetchall())
        [(model_json,)] = model_relation.project("model_json").fetchall()
        links = link_person_records_with_model(
            con, "identity_person_records", settings, nicknames, model_json
        ).pairs
        return links.assign(
            node_id_a="customer_id:" + links["record_id_l"],
            node_id_b="customer_id:" + links["record_id_r"],
            match_method="probabilistic",
            first_record_type="crm_customer",
        )[list(LINK_SCHEMA)]

    # No link is a result too (no duplicates); an error stops the build.
    return recorded_run(
        con,
        "int_identity_probabilistic_links",
        context_relation,
        LINK_SCHEMA,
        compute,
        produced=lambda links: True,
        optional=False,
    )
