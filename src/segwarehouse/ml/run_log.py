"""The run log of the dbt Python models: one row per model and dbt invocation, with a status.

Every Python model computes its output inside `recorded_run`, which

* collects what the segwarehouse code warned about while computing (a model that was not
  fitted, fitted with fewer folds, an absent seed segment...): those messages are the reason;
* for the optional models (ML, campaign lift) turns an unexpected exception into an empty
  output of the model's own columns and types, so dependants still build (status `failed`,
  reason = the exception); the identity models re-raise instead, since no mart is right
  without customer keys;
* appends a row to RUN_LOG_TABLE through the model's own DuckDB connection.

audit.model_runs (models/marts/data_quality/model_runs.sql) reads that table; the on-run-start
hook create_model_run_log() creates it before any model runs, so concurrent models only
append to it (DuckDB appends do not conflict; two concurrent CREATEs would).

Status: `ok` (output, nothing to report), `degraded` (output, with a reason: e.g. calibrated
on fewer folds), `skipped` (no output, with the reason: nothing to learn from) or `failed`
(an unexpected error; empty output). DECISIONLOG, "Python model run log".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from segwarehouse.ml.frames import empty_frame, typed_relation

logger = logging.getLogger("segwarehouse.ml.run_log")

RUN_LOG_TABLE = "audit.ml_model_run_log"
# Keep in step with macros/ml/create_model_run_log.sql (a test compares the built table).
RUN_LOG_SCHEMA = {
    "invocation_id": "varchar",
    "model_name": "varchar",
    "status": "varchar",
    "reason": "varchar",
    "output_rows": "bigint",
    "seconds": "double",
    "as_of_date": "date",
    "recorded_at": "timestamp",
}
STATUS_OK = "ok"
STATUS_DEGRADED = "degraded"
STATUS_SKIPPED = "skipped"
STATUS_FAILED = "failed"
STATUSES = (STATUS_OK, STATUS_DEGRADED, STATUS_SKIPPED, STATUS_FAILED)
# The loggers whose warnings become a run's reason (every module of the package logs under it).
REASON_LOGGER = "segwarehouse"
# A reason longer than this is cut (a repeated warning, a long exception text).
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class RunRecord:
    """One row of RUN_LOG_TABLE."""

    invocation_id: str
    model_name: str
    status: str
    reason: str | None
    output_rows: int | None
    seconds: float
    as_of_date: str


class _WarningCollector(logging.Handler):
    """Keeps the text of every warning (or worse) logged by this thread while it is attached:
    dbt runs two models at once in two threads, and each run keeps only its own warnings."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.thread == self.thread and message not in self.messages:
            self.messages.append(message)


def run_identity(context: Any) -> tuple[str, str]:
    """(invocation_id, as_of_date 'YYYY-MM-DD') of int_run_context's one row (a relation)."""
    rows = context.project("invocation_id, strftime(as_of_date, '%Y-%m-%d')").fetchall()
    if len(rows) != 1:
        raise ValueError(f"int_run_context holds {len(rows)} rows, expected one")
    invocation_id, as_of_date = rows[0]
    return str(invocation_id), str(as_of_date)


def run_status(reasons: list[str], failed: bool, produced: bool) -> str:
    """The status of a run from whether it failed, produced a result and warned."""
    if failed:
        return STATUS_FAILED
    if not produced:
        return STATUS_SKIPPED
    return STATUS_DEGRADED if reasons else STATUS_OK


def _reason(messages: list[str]) -> str | None:
    if not messages:
        return None
    text = " | ".join(messages)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def ensure_run_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create RUN_LOG_TABLE if absent (the on-run-start hook normally has)."""
    schema, _ = RUN_LOG_TABLE.split(".")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in RUN_LOG_SCHEMA.items())
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table if not exists {RUN_LOG_TABLE} ({columns})")


def append_run(con: duckdb.DuckDBPyConnection, record: RunRecord) -> None:
    """Append one row to RUN_LOG_TABLE (created first when absent)."""
    ensure_run_log(con)
    con.execute(
        f"insert into {RUN_LOG_TABLE} values (?, ?, ?, ?, ?, ?, cast(? as date), "
        "cast(now() at time zone 'UTC' as timestamp))",
        [
            record.invocation_id,
            record.model_name,
            record.status,
            record.reason,
            record.output_rows,
            record.seconds,
            record.as_of_date,
        ],
    )


def recorded_run(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    context: Any,
    schema: Mapping[str, str],
    compute: Callable[[], pd.DataFrame | duckdb.DuckDBPyRelation],
    *,
    produced: Callable[[pd.DataFrame], bool] = lambda frame: len(frame) > 0,
    note: Callable[[pd.DataFrame], str | None] = lambda frame: None,
    optional: bool = True,
) -> duckdb.DuckDBPyRelation:
    """`compute()` as a relation with exactly `schema`'s columns and types, its run logged.

    `context` is the int_run_context relation. `produced` says whether the output is a real
    result (int_churn_model's one row is not when it holds no model; no identity link can be
    a real result). `note` adds a reason read off the output, for code that does not warn.
    With `optional`, an exception becomes an empty output and status `failed`; otherwise it
    is logged, then raised. A DuckDB relation returned by `compute` is passed on as it is
    (typed by its own SQL), counted as a result, and its rows are not counted (output_rows
    null): counting would run its query twice.
    """
    invocation_id, as_of_date = run_identity(context)
    collector = _WarningCollector()
    package_logger = logging.getLogger(REASON_LOGGER)
    package_logger.addHandler(collector)
    started = time.perf_counter()
    failure: Exception | None = None
    output_rows: int | None = None
    try:
        result = compute()
        if isinstance(result, duckdb.DuckDBPyRelation):
            frame, relation = None, result
        else:
            frame, relation = result, typed_relation(con, result, schema)
            output_rows = len(frame)
    except Exception as error:  # recorded, then re-raised unless optional
        failure = error
        frame = empty_frame(schema)
        # A required model re-raises below: it needs no stand-in output.
        relation = typed_relation(con, frame, schema) if optional else None
        output_rows = 0
    finally:
        package_logger.removeHandler(collector)
    messages = list(collector.messages)
    extra = note(frame) if failure is None and frame is not None else None
    if extra:
        messages.append(extra)
    if failure is not None:
        logger.warning("%s failed: %s: %s", model_name, type(failure).__name__, failure)
        messages.insert(0, f"{type(failure).__name__}: {failure}")
    is_result = failure is None and (frame is None or produced(frame))
    if failure is None and not is_result and not messages:
        messages.append("no output rows (nothing was logged about why)")
    record = RunRecord(
        invocation_id=invocation_id,
        model_name=model_name,
        status=run_status(messages, failure is not None, is_result),
        reason=_reason(messages),
        output_rows=output_rows,
        seconds=round(time.perf_counter() - started, 3),
        as_of_date=as_of_date,
    )
    append_run(con, record)
    if failure is not None and not optional:
        raise failure
    assert relation is not None
    return relation
