"""Write-audit-publish: build into the work warehouse, audit it, then swap in a serving copy.

`refresh()` runs dbt build (models and their tests) into the work warehouse
($SEGMENTS_WAREHOUSE), the GX checks (segwarehouse.quality) and the volume checks there, and
only when everything passes copies the `marts` and `audit` schemas into a new DuckDB file
beside the serving file ($SEGMENTS_SERVING) and moves it into place with os.replace (atomic on
one filesystem): a reader sees the previous version or the new one, never a mix. A failed audit
leaves the serving file untouched. The audit also compares every source's raw row count with
the last published run (spike / truncation), applies per-source quarantine limits
(reference.source_quarantine_limits, falling back to the global limit) and scans what would be
published for raw emails, phones and names (segwarehouse.quality.privacy). Tables holding raw
PII for data owners (WITHHELD_TABLES) stay in the work warehouse. A lock file next to the
serving file keeps two refreshes apart. Every attempt is appended to `<serving>.runs.jsonl`;
published runs are also recorded in the serving file's `audit.publish_runs`.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segwarehouse.dbt_runner import run_dbt
from segwarehouse.quality import run_checks
from segwarehouse.quality.privacy import privacy_findings
from segwarehouse.settings import DEFAULT_SERVING, SERVING_ENV, Settings

PUBLISHED_SCHEMAS = ("marts", "audit")
RUNS_TABLE = "audit.publish_runs"
DEFAULT_MAX_QUARANTINE_RATE = 0.05
DEFAULT_MAX_ROW_DROP = 0.90
DEFAULT_MAX_SOURCE_GROWTH = 10.0
DEFAULT_MAX_SOURCE_DROP = 0.90
QUARANTINE_LIMITS_TABLE = "reference.source_quarantine_limits"
RECONCILIATION_TABLE = "audit.source_reconciliation"
# Built into the work warehouse for the people who fix data, never copied to the serving file
# that BI tools read: they hold raw values (PII) by design.
WITHHELD_TABLES = {
    "audit.quarantined_rows": "raw values of rejected rows (emails, phones, names) for the "
    "source owner to fix; query the work warehouse",
    "audit.identity_resolution_report": "identifier values cut by the identity guards (PII), "
    "for whoever tunes the guards; query the work warehouse",
}

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_QUALITY = 3
EXIT_LOCKED = 4


class RefreshLocked(RuntimeError):
    """Another refresh holds the lock."""


@dataclass
class RunRecord:
    """One refresh attempt."""

    run_id: str
    as_of_date: str | None
    started_at: str
    finished_at: str | None = None
    status: str = "running"
    rows_per_mart: dict[str, int] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    serving: str | None = None


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the volume checks."""

    max_quarantine_rate: float = DEFAULT_MAX_QUARANTINE_RATE
    max_row_drop: float = DEFAULT_MAX_ROW_DROP
    max_source_growth: float = DEFAULT_MAX_SOURCE_GROWTH
    max_source_drop: float = DEFAULT_MAX_SOURCE_DROP


def serving_path(settings: Settings) -> Path:
    """$SEGMENTS_SERVING (default warehouse/serving.duckdb), relative to the project root."""
    path = Path(os.environ.get(SERVING_ENV, DEFAULT_SERVING)).expanduser()
    return path if path.is_absolute() else settings.project_dir / path


@contextlib.contextmanager
def refresh_lock(serving: Path) -> Iterator[Path]:
    """Hold `<serving>.lock` (O_EXCL); a lock left by a dead process is taken over."""
    lock = serving.with_name(serving.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = _lock_holder(lock)
            if (holder is None and _age_seconds(lock) < 10) or (
                holder is not None and _alive(holder)
            ):
                raise RefreshLocked(
                    f"another refresh (pid {holder or '?'}) holds {lock}; wait for it to finish "
                    "(remove the file only if that process is gone)"
                ) from None
            lock.unlink(missing_ok=True)
    else:  # pragma: no cover - lost a race twice
        raise RefreshLocked(f"could not take {lock}")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def volume_checks(
    work: Path, serving: Path, config: GateConfig, notes: list[str] | None = None
) -> list[str]:
    """Failures of the volume checks: per-source quarantine rate and raw row count against the
    last published run, row-count drop per mart. Skipped comparisons are appended to `notes`."""
    notes = notes if notes is not None else []
    with duckdb.connect(str(work), read_only=True) as con:
        failures = quarantine_rate_checks(con, config.max_quarantine_rate, notes)
        new_sources = _source_rows(con)
        new_counts = _table_counts(con, ("marts",))
    if not serving.is_file():
        notes.append("volume: no published run yet, source row counts not compared")
        return failures
    with duckdb.connect(str(serving), read_only=True) as con:
        old_counts = _table_counts(con, ("marts",))
        old_sources = _source_rows(con)
    if old_sources is None:
        notes.append(f"volume: {serving} has no {RECONCILIATION_TABLE}, source rows not compared")
    else:
        failures += source_volume_failures(new_sources or {}, old_sources, config)
    for table, old in sorted(old_counts.items()):
        new = new_counts.get(table, 0)
        if old > 0 and new < old * (1 - config.max_row_drop):
            failures.append(
                f"volume: {table} has {new:,} rows, {old:,} in the published version "
                f"(drop above {config.max_row_drop:.0%})"
            )
    return failures


def quarantine_rate_checks(
    con: duckdb.DuckDBPyConnection, default_limit: float, notes: list[str]
) -> list[str]:
    """Sources quarantining more than their limit (the seed's row, else `default_limit`)."""
    limits = _quarantine_limits(con)
    if limits is None:
        notes.append(
            f"volume: no {QUARANTINE_LIMITS_TABLE} in the work warehouse, "
            f"every source limited to {default_limit:.2%}"
        )
        limits = {}
    failures = []
    for source, quarantined, raw, rate in con.execute(
        f"select source_name, quarantined_rows, raw_rows, quarantine_rate "
        f"from {RECONCILIATION_TABLE} order by 1"
    ).fetchall():
        limit = limits.get(source, default_limit)
        origin = f"{QUARANTINE_LIMITS_TABLE}" if source in limits else "--max-quarantine-rate"
        if rate is not None and rate > limit:
            failures.append(
                f"volume: {source} quarantine rate {rate:.2%} ({quarantined:,} of {raw:,} raw "
                f"rows) above {limit:.2%} (limit from {origin}); see audit.quarantined_rows "
                "in the work warehouse for the reasons"
            )
    return failures


def source_volume_failures(
    new: dict[str, int], old: dict[str, int], config: GateConfig
) -> list[str]:
    """Sources whose raw row count grew more than max_source_growth times, or lost more than
    max_source_drop of their rows, against the last published run."""
    failures = []
    for source in sorted(old.keys() & new.keys()):
        before, now = old[source], new[source]
        if before <= 0:
            continue
        if now > before * config.max_source_growth:
            failures.append(
                f"volume: {source} has {now:,} raw rows, {before:,} in the last published run "
                f"({now / before:.1f}x, above {config.max_source_growth:g}x: a duplicated or "
                "appended export?)"
            )
        elif now < before * (1 - config.max_source_drop):
            failures.append(
                f"volume: {source} has {now:,} raw rows, {before:,} in the last published run "
                f"({1 - now / before:.0%} fewer, more than {config.max_source_drop:.0%}: "
                "a truncated export?)"
            )
    return failures


def _source_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    if not _has_table(con, RECONCILIATION_TABLE):
        return None
    rows = con.execute(f"select source_name, raw_rows from {RECONCILIATION_TABLE}").fetchall()
    return {source: int(raw) for source, raw in rows}


def _quarantine_limits(con: duckdb.DuckDBPyConnection) -> dict[str, float] | None:
    if not _has_table(con, QUARANTINE_LIMITS_TABLE):
        return None
    rows = con.execute(
        f"select source_name, max_quarantine_rate from {QUARANTINE_LIMITS_TABLE}"
    ).fetchall()
    return {source: float(limit) for source, limit in rows}


def _has_table(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def publish(work: Path, serving: Path, record: RunRecord) -> None:
    """Copy the published schemas of `work` into a new file and move it over `serving`."""
    serving.parent.mkdir(parents=True, exist_ok=True)
    staged = serving.with_name(f".{serving.name}.{record.run_id}.tmp")
    staged.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(staged)) as con:
            con.execute("attach ? as work (read_only)", [str(work.resolve())])
            tables = [
                (schema, table)
                for schema, table in con.execute(
                    "select schema_name, table_name from duckdb_tables() "
                    "where database_name = 'work' and schema_name in (select unnest(?)) "
                    "order by 1, 2",
                    [list(PUBLISHED_SCHEMAS)],
                ).fetchall()
                if f"{schema}.{table}" not in WITHHELD_TABLES
            ]
            for schema in PUBLISHED_SCHEMAS:
                con.execute(f"create schema if not exists {schema}")
            for schema, table in tables:
                con.execute(
                    f'create table "{schema}"."{table}" as select * from work."{schema}"."{table}"'
                )
            con.execute("detach work")
            _copy_run_history(con, serving)
            record.serving = str(serving)
            con.execute(_RUNS_DDL)
            con.execute(
                f"insert into {RUNS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.run_id,
                    record.as_of_date,
                    record.started_at,
                    datetime.now(UTC).isoformat(timespec="microseconds"),
                    "published",
                    json.dumps(record.rows_per_mart, sort_keys=True),
                    record.checks_passed,
                    record.checks_failed,
                ],
            )
            con.execute("checkpoint")
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, serving)
    finally:
        staged.unlink(missing_ok=True)


_RUNS_DDL = f"""
create table if not exists {RUNS_TABLE} (
    run_id varchar, as_of_date varchar, started_at varchar, finished_at varchar,
    status varchar, rows_per_mart json, checks_passed integer, checks_failed integer
)
"""


def refresh(
    work: Path,
    serving: Path,
    as_of_date: date | None,
    build: Callable[[], list[str]] | None,
    docs_dir: Path | None = None,
    config: GateConfig | None = None,
    log: Callable[[str], None] = print,
) -> tuple[int, RunRecord]:
    """Build (if `build` is given), audit, publish; return the exit code and the run record.

    `build` runs dbt and returns the failures as 'error: …' / 'test: …' strings ([] = built).
    """
    config = config or GateConfig()
    record = RunRecord(
        run_id=uuid.uuid4().hex,
        as_of_date=as_of_date.isoformat() if as_of_date else None,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    code = EXIT_ERROR
    try:
        with refresh_lock(serving):
            code = _refresh_locked(work, serving, build, docs_dir, config, record, log)
    except RefreshLocked:
        raise
    except Exception as error:
        record.failures.append(f"error: {error}")
        record.status = "error"
        raise
    finally:
        record.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        _append_log(serving, record)
    return code, record


def _refresh_locked(
    work: Path,
    serving: Path,
    build: Callable[[], list[str]] | None,
    docs_dir: Path | None,
    config: GateConfig,
    record: RunRecord,
    log: Callable[[str], None],
) -> int:
    if build is not None:
        log(f"refresh {record.run_id}: dbt build into {work}")
        build_failures = build()
        if build_failures:
            record.failures += build_failures
            only_tests = all(item.startswith("test") for item in build_failures)
            record.status = "failed_audit" if only_tests else "error"
            log("dbt build failed; serving file left as it was:")
            for line in build_failures:
                log(f"  {line}")
            return EXIT_QUALITY if only_tests else EXIT_ERROR
    log(f"refresh {record.run_id}: data-quality checks")
    report = run_checks(work, docs_dir=docs_dir, run_id=record.run_id)
    record.checks_failed = len(report.failures)
    record.checks_passed = len(report.outcomes) - record.checks_failed
    record.failures += [line.strip() for line in report.summary_lines()[1:]]
    record.failures += volume_checks(work, serving, config, record.notes)
    record.failures += privacy_findings(work, PUBLISHED_SCHEMAS, set(WITHHELD_TABLES))
    with duckdb.connect(str(work), read_only=True) as con:
        record.rows_per_mart = _table_counts(con, ("marts",))
    for line in report.summary_lines()[:1] + record.notes:
        log(line)
    if record.failures:
        record.status = "failed_audit"
        log(f"audit failed ({len(record.failures)} findings); {serving} left as it was:")
        for line in record.failures:
            log(f"  {line}")
        return EXIT_QUALITY
    publish(work, serving, record)
    record.status = "published"
    log(f"published {serving} ({sum(record.rows_per_mart.values()):,} mart rows)")
    return EXIT_OK


def dbt_build_subprocess(project_dir: Path, dbt_vars: dict[str, str] | None) -> list[str]:
    """`dbt build` in a child process; [] on success, else the failed node ids."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or project_dir / "target")
    results = target / "run_results.json"
    results.unlink(missing_ok=True)
    completed = run_dbt(project_dir, ["build", "--target-path", str(target)], dbt_vars=dbt_vars)
    if completed.success:
        return []
    try:
        nodes = json.loads(results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        nodes = []
    failed = [str(n["unique_id"]) for n in nodes if n.get("status") in {"error", "fail"}]
    return failed or [f"error: dbt build exited {completed.returncode} before running nodes"]


def _copy_run_history(con: duckdb.DuckDBPyConnection, serving: Path) -> None:
    if not serving.is_file():
        return
    con.execute("attach ? as previous (read_only)", [str(serving.resolve())])
    try:
        exists = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'previous' "
            "and schema_name = 'audit' and table_name = 'publish_runs'"
        ).fetchone()[0]
        if exists:
            con.execute(_RUNS_DDL)
            con.execute(f"insert into {RUNS_TABLE} select * from previous.{RUNS_TABLE}")
    finally:
        con.execute("detach previous")


def _append_log(serving: Path, record: RunRecord) -> None:
    path = serving.with_name(serving.name + ".runs.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")


def _table_counts(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> dict[str, int]:
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name in (select unnest(?))",
        [list(schemas)],
    ).fetchall()
    return {
        f"{schema}.{table}": int(
            con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        )
        for schema, table in tables
    }


def _lock_holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _age_seconds(path: Path) -> float:
    try:
        return datetime.now(UTC).timestamp() - path.stat().st_mtime
    except OSError:
        return 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
