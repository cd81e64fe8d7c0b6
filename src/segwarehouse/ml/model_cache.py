"""Train on a schedule, score every day: retraining anchors and content-keyed reuse of fits.

A daily refresh moves as_of_date by one day. If a model's training set followed as_of_date, it
would change every day and every refresh would refit. Instead the training set is anchored: it
is built as of the *retrain anchor*, the latest day on or before as_of_date whose distance from
Monday 1970-01-05 is a multiple of ``every_days`` (7: Mondays; 1: as_of_date itself). Every
day of one period then trains on exactly the same rows.

The fitted model and the results derived only from the training set (cross-validated metrics,
permutation importance) are stored with a *model version*: a hash of the training rows, the
settings and the library versions. A build reuses a stored result only when its version equals
the version of the training set in front of it, so reuse can never give a different answer
from a fresh fit (the fits are seeded and deterministic): late-arriving rows, an erasure or a
changed var give another version and a refit. ``dbt build --full-refresh`` on an empty
warehouse therefore gives the same tables as a chain of daily refreshes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sklearn

logger = logging.getLogger("segwarehouse.ml")

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
    (DECISIONLOG, "Stored churn model").
    """
    return pickle.loads(blob)


def previous_rows(
    con: duckdb.DuckDBPyConnection, this: object, version: str, columns: Iterable[str]
) -> pd.DataFrame | None:
    """The rows the previous build of table `this` left for `version`, or None when there are
    none (first build, another version, or the table lacks a column: an older shape)."""
    wanted = ", ".join(f'"{column}"' for column in columns)
    try:
        rows = con.execute(f"select {wanted} from {this} where model_version = ?", [version]).df()
    except (duckdb.CatalogException, duckdb.BinderException):
        return None
    return rows if len(rows) else None
