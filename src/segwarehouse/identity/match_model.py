"""The probabilistic matcher's trained model, kept for a retrain period.

Training (u by random sampling, m by EM, the prior) is most of Splink's time: 6.9 of 9.8 s at
100k customers, scoring 1.5 s. ``int_identity_match_model`` trains once per retrain period
(var ml__retrain_every_days, segwarehouse.ml.model_cache) and stores the model as Splink's own
JSON (m and u per level and the prior; no pickle); ``int_identity_probabilistic_links``
scores today's records with it on every build. The model is kept while its ``refit_key`` (the
retrain anchor, the match settings, the nickname map and the library versions) is current,
like the churn model, so a daily refresh and a ``--full-refresh`` of the same warehouse link
the same pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import duckdb
import pandas as pd
import splink

from segwarehouse.identity.probabilistic import MatchSettings, train_person_model
from segwarehouse.ml.model_cache import model_version, retrain_anchor

MATCH_MODEL_NAME = "splink_person_match"
# Part of refit_key: bump it when the comparisons, blocking or training procedure change.
MATCH_MODEL_REVISION = 2

# stg_crm__customers as the matcher's input records (probabilistic.INPUT_COLUMNS).
CRM_PERSON_RECORDS = (
    "customer_id as record_id, first_name, last_name, birth_date, street_address, "
    "postal_code, city, country_code, email, phone"
)

MATCH_MODEL_SCHEMA = {
    "model_name": "varchar",
    "refit_key": "varchar",
    "record_count": "integer",
    "model_json": "varchar",
    "trained_at": "timestamp",
}


def match_refit_key(
    as_of_date: date | str,
    every_days: int,
    settings: MatchSettings,
    nicknames: Mapping[str, str],
) -> str:
    """What decides whether the matcher trains again (not the records themselves)."""
    return model_version(
        [],
        MATCH_MODEL_NAME,
        MATCH_MODEL_REVISION,
        splink.__version__,
        settings,
        sorted(nicknames.items()),
        retrain_anchor(as_of_date, every_days),
    )


def match_model_row(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings,
    nicknames: Mapping[str, str],
    refit_key: str,
) -> pd.DataFrame:
    """MATCH_MODEL_SCHEMA's one row: a model trained on ``records`` now (model_json null when
    the records are too few to train on)."""
    result = train_person_model(con, records, settings, nicknames)
    return pd.DataFrame(
        {
            "model_name": [MATCH_MODEL_NAME],
            "refit_key": [refit_key],
            "record_count": [result.record_count],
            "model_json": [result.model_json],
            "trained_at": [pd.Timestamp.now(tz="UTC").tz_localize(None)],
        }
    )[list(MATCH_MODEL_SCHEMA)]
