"""Train on a schedule, score every day: retraining anchors, model versions, stored fits.

A daily refresh moves as_of_date by one day. If a model's training set followed as_of_date, it
would change every day and every refresh would refit. Instead the training set is anchored: it
is built as of the *retrain anchor*, the latest day on or before as_of_date whose distance from
Monday 1970-01-05 is a multiple of ``every_days`` (7: Mondays; 1: as_of_date itself).

A fitted model is stored with two hashes (see segwarehouse.ml.churn):

* ``model_version``: its training rows, the settings and the library versions, i.e. what the
  fit was made from. Results computed from the training set alone (cross-validated metrics,
  permutation importance) are kept while the model_version in front of them is the same.
* ``refit_key``: the training cutoff (so the period), the settings and the library versions,
  not the rows. The model is kept while it is the same: within a period identity merges and
  late rows still move a few training rows every day (0.1 % at 100k customers), and refitting
  for them would refit every day.

So a daily refresh and ``dbt build --full-refresh`` on the same warehouse give the same
tables (both keep the period's fit); a build into an empty warehouse on a later day of the
period fits on that day's view of the anchor's rows, which may differ by those few rows.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sklearn

# Retrain anchors count days from this Monday, so with every_days = 7 they are Mondays.
ANCHOR_EPOCH = date(1970, 1, 5)
# Length of model_version (hex digits of a SHA-256).
VERSION_LENGTH = 16


def retrain_anchor(as_of_date: date | str, every_days: int) -> date:
    """The latest day on or before as_of_date that is a whole number of periods after
    ANCHOR_EPOCH (macro retrain_anchor_date computes the same in SQL)."""
    if every_days < 1:
        raise ValueError(f"the retraining period must be at least 1 day, got {every_days}")
    day = as_of_date if isinstance(as_of_date, date) else date.fromisoformat(str(as_of_date))
    return day - timedelta(days=(day - ANCHOR_EPOCH).days % every_days)


def model_version(frames: Iterable[pd.DataFrame | pd.Series], *parts: object) -> str:
    """A stable hash of the frames' rows (index, values, column names, order) and of `parts`
    (settings, names), with the numpy, pandas and scikit-learn versions: a fit that any of
    them could change gets another version."""
    digest = hashlib.sha256()
    for part in (np.__version__, pd.__version__, sklearn.__version__, *parts):
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    for frame in frames:
        columns = [frame.name] if isinstance(frame, pd.Series) else list(frame.columns)
        digest.update(repr(columns).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:VERSION_LENGTH]


def dump_model(model: Any) -> bytes:
    """A fitted estimator as bytes for a BLOB column."""
    buffer = io.BytesIO()
    pickle.dump(model, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def load_model(blob: bytes) -> Any:
    """The estimator `dump_model` stored.

    Unpickling runs code named in the bytes: the blob is read only from the build's own
    warehouse table, which the build wrote and which is as trusted as the project's code
    (DECISIONLOG, "Stored models").
    """
    return pickle.loads(blob)


def previous_rows(
    con: duckdb.DuckDBPyConnection,
    this: object,
    key: str,
    columns: Iterable[str],
    key_column: str = "model_version",
) -> pd.DataFrame | None:
    """The rows the previous build of table `this` left with `key_column` = `key`, or None
    when there are none (first build, another key, or the table lacks a column: an older
    shape)."""
    wanted = ", ".join(f'"{column}"' for column in columns)
    try:
        rows = con.execute(f'select {wanted} from {this} where "{key_column}" = ?', [key]).df()
    except (duckdb.CatalogException, duckdb.BinderException):
        return None
    return rows if len(rows) else None
