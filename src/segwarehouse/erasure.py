"""Erasure: remove erased people's rows from every table of the work warehouse.

The dbt build already keeps erased people out of the marts and exports
(int_identity_erased_customer_keys). This step, run by `refresh` after the build and before
the audit (so the serving file, a copy of the audited work warehouse, never holds them either),
deletes what the build still keeps about them elsewhere: staging base tables, intermediate
tables, golden records, history tables, audit tables with raw values, stored training data.

What identifies an erased person here (the *erased values*):

- the customer_key and customer_sk of every erased cluster and the record_id of each of its
  records (an order id, a composite web-link id ...);
- every identifier value (customer_id, email, phone, loyalty id, anonymous_id ...) that occurs
  only in records of erased clusters, and its SHA-256 (the project's pseudonym of a normalised
  value). An identifier another, not erased, person also carries (a shared household phone, a
  junk email) is theirs too and is not swept; and the identity graph's node id of each such
  value (`email:...`), so that no edge, component or probabilistic link of theirs is left;
- the customer_id and email of each request (not junk), so that the request itself leaves
  staging once it has been carried out.

Every table outside the `raw` schema (views over the landing files, which the project does not
own) is swept: a row goes when a text column equals an erased value, a list column holds one,
a customer_sk column equals an erased sk, or a JSON-like text column (a quarantined raw record)
contains an erased value as a whole token. Rows of the staging base tables (staging tables
with row_status and landing_file) are not deleted but replaced by a tombstone: every column
null except landing_file, batch_run_started_at and row_status = 'erased', so the incremental
base tables keep their record of loaded files and audit.source_reconciliation still adds up.

Stored fits: the churn training set already leaves erased people out (int_customer_orders
drops them), but the fit of a retrain period is kept all period (segwarehouse.ml.model_cache),
so a fit made before a request may have been trained on that person. When a request is carried
out for the first time (not yet in the log), int_churn_model's row keeps serving this run but
its refit_key is cleared, so the next build refits. The fit holds no per-person rows (a
gradient-boosting model and its calibrators; see docs/erasure.md).

The record that erasure was carried out is audit.erasure_log: one row per table touched per
run (run id, date, table, rows removed, the requests carried out named by landing file and
request time): no identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segwarehouse.settings import duckdb_limits

ERASURE_LOG = "audit.erasure_log"
ERASED_KEYS = "intermediate.int_identity_erased_customer_keys"
RECORD_KEYS = "intermediate.int_identity_record_keys"
OCCURRENCES = "intermediate.int_identity_occurrences"
NODES = "intermediate.int_identity_nodes"
REQUESTS = "staging.base_privacy__erasure_requests"
CHURN_MODEL = "intermediate.int_churn_model"
# Schemas not swept: views over the landing files (documented in docs/erasure.md).
UNSWEPT_SCHEMAS = ("raw",)
TOMBSTONE_STATUS = "erased"
# Tables of this schema with row_status and landing_file (the staging base tables) get
# tombstones; a tombstone keeps these columns (when the table has them) besides row_status.
TOMBSTONE_SCHEMA = "staging"
TOMBSTONE_KEEPS = ("landing_file", "batch_run_started_at")
TEXT_TYPES = ("VARCHAR", "JSON")
LIST_TYPES = ("VARCHAR[]",)
# The longest alternation of erased values in one regular expression (characters): RE2, which
# DuckDB's regexp_matches uses, fails to compile one of about 1 MB; half of that leaves room.
MAX_PATTERN_CHARS = 500_000


@dataclass
class ErasureReport:
    """What one erasure sweep did."""

    run_id: str
    requests: list[str] = field(default_factory=list)
    rows_per_table: dict[str, int] = field(default_factory=dict)
    fits_invalidated: list[str] = field(default_factory=list)
    skipped: str | None = None

    def lines(self) -> list[str]:
        """One line for the run's notes ([] when nothing was removed)."""
        if self.skipped:
            return [f"erasure: not run, {self.skipped}"]
        if not self.rows_per_table:
            return []
        total = sum(self.rows_per_table.values())
        return [
            f"erasure: {len(self.requests)} request(s) carried out, {total:,} row(s) removed "
            f"from {len(self.rows_per_table)} table(s) (see {ERASURE_LOG})"
        ]


def erase(work: Path, run_id: str) -> ErasureReport:
    """Sweep the work warehouse (see the module docstring) in one transaction. A warehouse
    without the identity tables (a partial selection) is left as it is, and the report says
    so."""
    report = ErasureReport(run_id)
    with duckdb.connect(str(work), config=duckdb_limits()) as con:
        needed = (ERASED_KEYS, RECORD_KEYS, OCCURRENCES)
        missing = [name for name in needed if not _exists(con, name)]
        if missing:
            report.skipped = f"no {', '.join(missing)} in {work} (build the identity models)"
            return report
        con.begin()
        _sweep(con, report)
        con.commit()
    return report


def _sweep(con: duckdb.DuckDBPyConnection, report: ErasureReport) -> None:
    """Collect the erased values, sweep every table, invalidate fits, write the log."""
    report.requests = _collect_erased_values(con)
    patterns = _token_patterns(con)
    for schema, table in _swept_tables(con):
        removed = _sweep_table(con, schema, table, patterns)
        if removed:
            report.rows_per_table[f"{schema}.{table}"] = removed
    if report.rows_per_table and _new_requests(con, report.requests):
        report.fits_invalidated = _invalidate_fits(con)
    _write_log(con, report)


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def _collect_erased_values(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Fill temp tables erased_values(value) and erased_sks(customer_sk); return the requests
    (by landing file and request time) that name someone."""
    junk_filter = (
        f"and not exists (select 1 from {NODES} n where n.guard_reason = 'junk_identifier' "
        "and n.node_id in ('customer_id:' || coalesce(r.customer_id, ''), "
        "'email:' || coalesce(r.email, '')))"
        if _exists(con, NODES)
        else ""
    )
    has_requests = _exists(con, REQUESTS)
    request_values = (
        f"""
        union select unnest([r.customer_id, r.email]) from {REQUESTS} r
        where r.row_status = 'staged' {junk_filter}
        """
        if has_requests
        else ""
    )
    con.execute(f"""
        create or replace temp table erased_records as
        select distinct rk.record_type, rk.record_id, rk.customer_key, rk.customer_sk
        from {RECORD_KEYS} rk
        inner join {ERASED_KEYS} e on rk.customer_key = e.customer_key
    """)
    con.execute(f"""
        create or replace temp table erased_identifiers as
        select o.identifier_type, o.identifier_value as value
        from {OCCURRENCES} o
        left join erased_records er
            on o.record_type = er.record_type and o.record_id = er.record_id
        group by o.identifier_type, o.identifier_value
        having bool_and(er.record_id is not null)
    """)
    con.execute(f"""
        create or replace temp table erased_values as
        select distinct value from (
            select value from erased_identifiers
            union select sha256(value) from erased_identifiers
            union select identifier_type || ':' || value from erased_identifiers
            union select record_id from erased_records
            union select customer_key from erased_records
            {request_values}
        ) where value is not null and value <> ''
    """)
    con.execute("""
        create or replace temp table erased_sks as
        select distinct customer_sk from erased_records where customer_sk is not null
    """)
    if not has_requests:
        return []
    rows = con.execute(f"""
        select landing_file || '@' || coalesce(cast(requested_at as varchar), 'undated')
        from {REQUESTS} where row_status = 'staged' order by 1
    """).fetchall()
    return [row[0] for row in rows]


def _swept_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    log_schema, log_name = ERASURE_LOG.split(".")
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        f"and table_schema not in ({', '.join('?' for _ in UNSWEPT_SCHEMAS)}) "
        "and not (table_schema = ? and table_name = ?) order by 1, 2",
        [*UNSWEPT_SCHEMAS, log_schema, log_name],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _token_patterns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Regular expressions that together match any erased value as a whole token of
    lower-cased text: one alternation per MAX_PATTERN_CHARS of escaped values, since RE2
    refuses to compile a larger one (51,205 values at 1M customers: 'pattern too large')."""
    rows = con.execute("select value from erased_values").fetchall()
    values = sorted({re.escape(row[0].lower()) for row in rows})
    chunks: list[list[str]] = []
    size = MAX_PATTERN_CHARS
    for value in values:
        if size + len(value) + 1 > MAX_PATTERN_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(value)
        size += len(value) + 1
    return [f"(^|[^a-z0-9_])({'|'.join(chunk)})($|[^a-z0-9_])" for chunk in chunks]


def _match_condition(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[tuple[str, str]],
    patterns: list[str],
) -> tuple[str, list[str]]:
    """The WHERE condition selecting a table's erased rows, with its parameters."""
    terms: list[str] = []
    parameters: list[str] = []
    text_columns = [_quote(name) for name, data_type in columns if data_type in TEXT_TYPES]
    json_like = _json_like(con, relation, text_columns) if patterns else set()
    for name, data_type in columns:
        column = _quote(name)
        if data_type in TEXT_TYPES:
            terms.append(f"cast({column} as varchar) in (select value from erased_values)")
            for pattern in patterns if column in json_like else []:
                terms.append(f"regexp_matches(lower(cast({column} as varchar)), ?)")
                parameters.append(pattern)
        elif data_type in LIST_TYPES:
            terms.append(f"list_has_any({column}, (select list(value) from erased_values))")
        elif name == "customer_sk" and data_type in ("BIGINT", "HUGEINT", "UBIGINT"):
            terms.append(f"{column} in (select customer_sk from erased_sks)")
    return " or ".join(terms), parameters


def _json_like(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> set[str]:
    """The text columns (quoted names) that hold JSON (a raw record) in any row: one scan of
    the table for all of them."""
    if not columns:
        return set()
    flags = ", ".join(
        f"coalesce(bool_or(ltrim(cast({column} as varchar)) like '{{%' "
        f"or ltrim(cast({column} as varchar)) like '[%'), false)"
        for column in columns
    )
    [row] = con.execute(f"select {flags} from {relation}").fetchall()
    return {column for column, holds_json in zip(columns, row, strict=True) if holds_json}


def _sweep_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, patterns: list[str]
) -> int:
    """Remove (or tombstone) a table's erased rows; the number of rows."""
    relation = f"{_quote(schema)}.{_quote(table)}"
    columns = _columns(con, schema, table)
    condition, parameters = _match_condition(con, relation, columns, patterns)
    if not condition:
        return 0
    names = [name for name, _ in columns]
    if schema != TOMBSTONE_SCHEMA or not {"row_status", "landing_file"} <= set(names):
        return int(
            con.execute(f"delete from {relation} where {condition}", parameters).fetchall()[0][0]
        )
    # A tombstone replaces the row: delete it and insert the kept columns (an UPDATE nulling
    # every other column cost DuckDB more at commit than the sweep's scan).
    kept = "".join(f", {_quote(name)}" for name in names if name in TOMBSTONE_KEEPS)
    con.execute(
        f"create or replace temp table erased_rows as select rowid as erased_rowid{kept} "
        f"from {relation} where {condition}",
        parameters,
    )
    con.execute(f"delete from {relation} where rowid in (select erased_rowid from erased_rows)")
    [(removed,)] = con.execute(
        f"insert into {relation} (row_status{kept}) "
        f"select '{TOMBSTONE_STATUS}'{kept} from erased_rows"
    ).fetchall()
    con.execute("drop table erased_rows")
    return int(removed)


def _new_requests(con: duckdb.DuckDBPyConnection, requests: list[str]) -> bool:
    """Whether a request is carried out for the first time (not in the log yet)."""
    if not _exists(con, ERASURE_LOG):
        return bool(requests)
    logged = {
        row[0]
        for row in con.execute(f"select distinct unnest(requests) from {ERASURE_LOG}").fetchall()
    }
    return bool(set(requests) - logged)


def _invalidate_fits(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Make the next build refit the stored churn model (it was fitted with erased people in
    its training set): its refit_key no longer matches any key."""
    if not _exists(con, CHURN_MODEL):
        return []
    names = {name for name, _ in _columns(con, *CHURN_MODEL.split("."))}
    if "refit_key" not in names:
        return []
    con.execute(f"update {CHURN_MODEL} set refit_key = null where refit_key is not null")
    return [CHURN_MODEL]


def _write_log(con: duckdb.DuckDBPyConnection, report: ErasureReport) -> None:
    con.execute("create schema if not exists audit")
    con.execute(f"""
        create table if not exists {ERASURE_LOG} (
            run_id varchar not null,
            erased_at timestamp not null,
            table_name varchar not null,
            rows_removed bigint not null,
            requests varchar[] not null,
            fits_invalidated varchar[] not null
        )
    """)
    erased_at = datetime.now(UTC).replace(tzinfo=None)
    for table_name, rows in sorted(report.rows_per_table.items()):
        con.execute(
            f"insert into {ERASURE_LOG} values (?, ?, ?, ?, ?, ?)",
            [
                report.run_id,
                erased_at,
                table_name,
                rows,
                report.requests,
                report.fits_invalidated,
            ],
        )
