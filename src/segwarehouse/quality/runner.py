"""Checkpoint runner: aggregate each suite's frame in DuckDB, validate with GX, record results.

Results go to `audit.data_quality_results` in the checked warehouse (one row per expectation
per run) and to GX Data Docs (static HTML, `docs_dir/index.html`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from segwarehouse.quality.metrics import validate
from segwarehouse.quality.suites import (
    OPTIONAL_RAW_COLUMNS,
    SUITE_VERSION,
    Lookups,
    Suite,
    all_suites,
)

RESULTS_TABLE = "audit.data_quality_results"
DOCS_SITE = "segwarehouse"
_RESULTS_DDL = f"""
create table if not exists {RESULTS_TABLE} (
    run_id varchar not null,
    suite varchar not null,
    suite_version varchar not null,
    expectation varchar not null,
    "column" varchar,
    success boolean not null,
    observed_value varchar,
    checked_at timestamp not null
)
"""


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result in one run."""

    suite: str
    expectation: str
    column: str | None
    success: bool
    observed_value: str | None


@dataclass
class CheckReport:
    """Outcome of one checkpoint run."""

    run_id: str
    checked_at: datetime
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    skipped_suites: list[str] = field(default_factory=list)
    docs_index: Path | None = None

    @property
    def success(self) -> bool:
        """True when every expectation of every suite that ran held."""
        return all(outcome.success for outcome in self.outcomes)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """The expectations that did not hold."""
        return [outcome for outcome in self.outcomes if not outcome.success]

    def failed_suites(self) -> list[str]:
        """Names of the suites with at least one failed expectation."""
        return sorted({outcome.suite for outcome in self.failures})

    def summary_lines(self) -> list[str]:
        """Human-readable summary: counts, then one line per failure."""
        suites = sorted({outcome.suite for outcome in self.outcomes})
        lines = [
            f"data-quality run {self.run_id}: {len(suites)} suites, "
            f"{len(self.outcomes)} expectations, {len(self.failures)} failed"
            + (
                f", skipped (no such relation): {', '.join(self.skipped_suites)}"
                if self.skipped_suites
                else ""
            )
        ]
        lines += [
            f"  FAIL {f.suite}: {f.expectation}"
            + (f" [{f.column}]" if f.column else "")
            + (f" observed {f.observed_value}" if f.observed_value else "")
            for f in self.failures
        ]
        return lines


def run_checks(
    warehouse: Path,
    docs_dir: Path | None = None,
    suites: Sequence[Suite] | None = None,
    run_id: str | None = None,
    record: bool = True,
) -> CheckReport:
    """Run the suites against `warehouse`; record results there unless record=False."""
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report = CheckReport(
        run_id=run_id or uuid.uuid4().hex,
        checked_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    )
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for site, config in dict(context.variables.data_docs_sites or {}).items():
        # the ephemeral default site lives in a fresh temp dir: drop it and the dir
        temp_dir = config.get("store_backend", {}).get("base_directory")
        context.delete_data_docs_site(site)
        if temp_dir and Path(temp_dir).is_dir() and not any(Path(temp_dir).iterdir()):
            Path(temp_dir).rmdir()
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
            },
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = _relations(con)
        lookups = _lookups(con, relations)
        for suite in suites if suites is not None else all_suites():
            if suite.relation != "staging.stg_*" and suite.relation not in relations:
                report.skipped_suites.append(suite.name)
                continue
            report.outcomes += _validate(context, con, suite, _query(suite, relations), lookups)
    if docs_dir is not None:  # once for every suite (a checkpoint action rebuilt them per suite)
        context.build_data_docs(site_names=[DOCS_SITE])
        report.docs_index = docs_dir / "index.html"
    if record:
        write_results(warehouse, report)
    return report


def write_results(warehouse: Path, report: CheckReport) -> None:
    """Append the report's outcomes to audit.data_quality_results."""
    rows = pd.DataFrame(
        [
            {
                "run_id": report.run_id,
                "suite": outcome.suite,
                "suite_version": SUITE_VERSION,
                "expectation": outcome.expectation,
                "column": outcome.column,
                "success": outcome.success,
                "observed_value": outcome.observed_value,
                "checked_at": report.checked_at,
            }
            for outcome in report.outcomes
        ],
        columns=[
            "run_id",
            "suite",
            "suite_version",
            "expectation",
            "column",
            "success",
            "observed_value",
            "checked_at",
        ],
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists audit")
        con.execute(_RESULTS_DDL)
        con.register("dq_rows", rows)
        con.execute(f"insert into {RESULTS_TABLE} by name select * from dq_rows")
        con.unregister("dq_rows")


def _validate(
    context: AbstractDataContext,
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    query: str,
    lookups: Lookups,
) -> list[ExpectationOutcome]:
    """Validate the suite on DuckDB's aggregates of its frame (quality.metrics) and store
    the result in the context for the Data Docs."""
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, meta={"suite_version": SUITE_VERSION})
    )
    for expectation in suite.build(lookups):
        gx_suite.add_expectation(expectation)
    results = validate(con, query, gx_suite.expectations)
    _store(context, suite, results)
    outcomes = []
    for item in results:
        kwargs = item.expectation_config.kwargs
        column = kwargs.get("column") or (
            ",".join(kwargs["column_list"]) if "column_list" in kwargs else None
        )
        if column is None and "column_A" in kwargs:
            column = f"{kwargs['column_A']},{kwargs['column_B']}"
        outcomes.append(
            ExpectationOutcome(
                suite=suite.name,
                expectation=item.expectation_config.type,
                column=column,
                success=bool(item.success),
                observed_value=_observed(item),
            )
        )
    return outcomes


def _store(
    context: AbstractDataContext, suite: Suite, results: list[ExpectationValidationResult]
) -> None:
    """Keep the suite's results in the context's validation store (the Data Docs read it)."""
    passed = sum(1 for item in results if item.success)
    run_id = RunIdentifier(run_name=suite.name, run_time=datetime.now(UTC))
    suite_result = ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": 100.0 * passed / len(results) if results else None,
        },
        meta={
            "suite_version": SUITE_VERSION,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "active_batch_definition": {"datasource_name": "duckdb", "data_asset_name": suite.name},
        },
    )
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=run_id,
        batch_identifier=f"duckdb-{suite.name}",
    )
    context.validation_results_store.set(identifier, suite_result)


def _observed(item: object) -> str | None:
    """What GX measured: observed_value, else the unexpected share and a few examples."""
    result = dict(getattr(item, "result", None) or {})
    exception = getattr(item, "exception_info", None) or {}
    if exception.get("raised_exception"):
        return f"error: {exception.get('exception_message')}"
    if "observed_value" in result:
        return json.dumps(result["observed_value"], default=str)
    if "unexpected_count" in result:
        examples = result.get("partial_unexpected_list") or []
        text = (
            f"{result['unexpected_count']} unexpected "
            f"({(result.get('unexpected_percent') or 0):.3f}%)"
        )
        if examples:
            text += f", e.g. {json.dumps(examples[:5], default=str)}"
        return text
    return None


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "union all select schema_name || '.' || view_name from duckdb_views() where not internal"
    ).fetchall()
    return {row[0] for row in rows}


def _lookups(con: duckdb.DuckDBPyConnection, relations: set[str]) -> Lookups:
    erased: list[str] = []
    if "intermediate.int_identity_erased_customer_keys" in relations:
        rows = con.execute(
            "select distinct customer_key from intermediate.int_identity_erased_customer_keys "
            "where customer_key is not null order by 1"
        ).fetchall()
        erased = [row[0] for row in rows]
    skipped: frozenset[str] = frozenset()
    if "audit.model_runs" in relations:
        rows = con.execute(
            "select model_name from audit.model_runs "
            "where is_current_invocation and status = 'skipped'"
        ).fetchall()
        skipped = frozenset(row[0] for row in rows)
    return Lookups(
        erased_customer_keys=erased,
        undelivered_columns=_undelivered(con, relations),
        skipped_models=skipped,
    )


def _undelivered(con: duckdb.DuckDBPyConnection, relations: set[str]) -> frozenset[str]:
    """The OPTIONAL_RAW_COLUMNS without a single value in their landing file."""
    absent = set()
    for source, columns in OPTIONAL_RAW_COLUMNS.items():
        if f"raw.{source}" not in relations:
            continue
        counts = ", ".join(f"count({column})" for column in columns)
        found = con.execute(f"select {counts} from raw.{source}").fetchone() or ()
        absent |= {f"{source}.{column}" for column, n in zip(columns, found, strict=True) if not n}
    return frozenset(absent)


def _query(suite: Suite, relations: set[str]) -> str:
    if "{landing}" not in suite.query:
        return suite.query
    counts = [
        f"select '{name.split('.', 1)[1]}' as source_name, count(*) as landing_rows from {name}"
        for name in sorted(relations)
        if name.startswith("raw.")
    ]
    return suite.query.replace("{landing}", " union all ".join(counts))
