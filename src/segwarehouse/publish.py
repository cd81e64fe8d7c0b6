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
PII for data owners (WITHHELD_TABLES) stay in the work warehouse. Lock files next to the
serving file and the work warehouse keep two refreshes apart (segwarehouse.locks); a stale one
of a killed refresh is taken over, and leftovers of interrupted publishes are removed. The
current serving file is only read, from a copy when a reader holds it read-write. Every attempt
is appended to `<serving>.runs.jsonl`; published runs are also recorded in the serving file's
`audit.publish_runs`, with a `synthetic` flag: demo data is refused over real data.
`<work>.state.json` records the last build (so --skip-build refuses a failed one) and the run
published from the work file (so the export uses its emails only while it still holds it).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segwarehouse.dbt_runner import SCHEDULED_BUILD, run_dbt
from segwarehouse.erasure import erase
from segwarehouse.locks import (
    BusyFile,
    RefreshLocked,
    busy_file,
    duckdb_lock_holder,
    is_dbt,
    pid_lock,
)
from segwarehouse.quality.privacy import privacy_findings
from segwarehouse.serving_file import attach_serving, copy_table, grain_keys
from segwarehouse.settings import (
    DEFAULT_SERVING,
    SERVING_ENV,
    Settings,
    file_fingerprint,
    find_project_dir,
)

PUBLISHED_SCHEMAS = ("marts", "audit")
RUNS_TABLE = "audit.publish_runs"
DEFAULT_MAX_QUARANTINE_RATE = 0.05
# (max_growth, max_shrink) per kind for a work warehouse built without the seed volume_limits
DEFAULT_VOLUME_LIMITS = {"source": (10.0, 0.90), "mart": (10.0, 0.90)}
VOLUME_LIMITS_TABLE = "reference.volume_limits"
VOLUME_SEED = "seeds/quality/volume_limits.csv"
QUARANTINE_LIMITS_TABLE = "reference.source_quarantine_limits"
RECONCILIATION_TABLE = "audit.source_reconciliation"
QUARANTINE_COUNTS_TABLE = "audit.quarantine_reason_counts"
# Built into the work warehouse for the people who fix data, never copied to the serving file
# that BI tools read: they hold raw values (PII) by design.
WITHHELD_TABLES = {
    "audit.quarantined_rows": "raw values of rejected rows (emails, phones, names) for the "
    "source owner to fix; query the work warehouse",
    "audit.identity_resolution_report": "identifier values cut by the identity guards (PII), "
    "for whoever tunes the guards; query the work warehouse",
    "audit.test_passes": "when each scoped grain test last passed: the work warehouse's own "
    "bookkeeping (macros/cross_db/test_passes.sql), nothing for a reader",
}

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_QUALITY = 3
EXIT_LOCKED = 4


class PublishFailed(RuntimeError):
    """The new serving file could not be written (disk full); the current one stands. The
    message is one line: what happened, where, the space, and what to do."""


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
    synthetic: bool = False


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the volume checks. The growth/shrink limits come from the seed
    volume_limits; a value given here overrides every source (or mart) for this run."""

    max_quarantine_rate: float = DEFAULT_MAX_QUARANTINE_RATE
    max_row_drop: float | None = None
    max_source_growth: float | None = None
    max_source_drop: float | None = None


def serving_path(settings: Settings) -> Path:
    """$SEGMENTS_SERVING (default warehouse/serving.duckdb), relative to the project root."""
    path = Path(os.environ.get(SERVING_ENV, DEFAULT_SERVING)).expanduser()
    return path if path.is_absolute() else settings.project_dir / path


@contextlib.contextmanager
def refresh_lock(serving: Path, log: Callable[[str], None] = print) -> Iterator[Path]:
    """Hold `<serving>.lock` (O_EXCL); a lock left by a dead process is taken over (logged)."""
    with pid_lock(serving.with_name(serving.name + ".lock"), "a killed refresh", log) as lock:
        yield lock


@contextlib.contextmanager
def work_lock(work: Path, log: Callable[[str], None] = print) -> Iterator[Path]:
    """Hold `<work>.lock`: two refreshes into one work warehouse (whatever their serving
    files) would build over each other."""
    with pid_lock(work.with_name(work.name + ".lock"), "a killed refresh", log) as lock:
        yield lock


def volume_checks(
    work: Path, serving: Path, config: GateConfig, notes: list[str] | None = None
) -> list[str]:
    """Failures of the volume checks: per-source quarantine rate; per source (raw and staged
    rows) and per mart (rows) growth and shrink against the last published run, with the
    limits of the seed volume_limits. Skipped comparisons are appended to `notes`."""
    notes = notes if notes is not None else []
    with duckdb.connect(str(work), read_only=True) as con:
        failures = quarantine_rate_checks(con, config.max_quarantine_rate, notes)
        new_sources = _source_rows(con)
        new_counts = _table_counts(con, ("marts",))
        limits = volume_limits(con, config, notes)
    published = read_published(serving)
    if published is None:
        notes.append("volume: no published run yet, source row counts not compared")
        return failures
    notes += published.notes
    old_counts, old_sources = published.mart_counts, published.source_rows
    if old_sources is None:
        notes.append(f"volume: {serving} has no {RECONCILIATION_TABLE}, source rows not compared")
    else:
        failures += source_volume_failures(new_sources or {}, old_sources, limits)
    failures += mart_volume_failures(new_counts, old_counts, limits)
    return failures


@dataclass(frozen=True)
class Bound:
    """One limit (None = not checked) and where it comes from, as the operator changes it."""

    value: float | None
    origin: str


@dataclass(frozen=True)
class VolumeLimits:
    """Growth and shrink bounds per (kind, name), kind 'source' or 'mart'; rows named
    'default' cover the rest of their kind. Flags given for the run override a kind."""

    rows: dict[tuple[str, str], tuple[float | None, float | None]]
    overrides: dict[tuple[str, str], Bound] = field(default_factory=dict)
    seeded: bool = True

    def bound(self, kind: str, name: str, which: str) -> Bound:
        """The growth or shrink (`which`) bound of one source or mart."""
        if (kind, which) in self.overrides:
            return self.overrides[(kind, which)]
        index = 0 if which == "growth" else 1
        if not self.seeded:
            value = DEFAULT_VOLUME_LIMITS[kind][index]
            return Bound(value, f"the built-in default (no {VOLUME_LIMITS_TABLE})")
        key = (kind, name) if (kind, name) in self.rows else (kind, "default")
        if key not in self.rows:
            value = DEFAULT_VOLUME_LIMITS[kind][index]
            return Bound(value, f"the built-in default (add a row {kind},{name} to {VOLUME_SEED})")
        column = "max_growth" if which == "growth" else "max_shrink"
        origin = f"{column} of row {key[0]},{key[1]} in {VOLUME_SEED}"
        if key[1] == "default":
            origin += f" (add a row {kind},{name} to change it for {name} alone)"
        return Bound(self.rows[key][index], origin)


def volume_limits(
    con: duckdb.DuckDBPyConnection, config: GateConfig, notes: list[str]
) -> VolumeLimits:
    """The seed's limits from the work warehouse, with the run's flag overrides."""
    overrides = {
        (kind, which): Bound(value, f"{flag} given for this run")
        for kind, which, value, flag in (
            ("source", "growth", config.max_source_growth, "--max-source-growth"),
            ("source", "shrink", config.max_source_drop, "--max-source-drop"),
            ("mart", "shrink", config.max_row_drop, "--max-row-drop"),
        )
        if value is not None
    }
    if not _has_table(con, VOLUME_LIMITS_TABLE):
        notes.append(
            f"volume: no {VOLUME_LIMITS_TABLE} in the work warehouse, every source and mart "
            "limited to the built-in 10x growth and 90% shrink"
        )
        return VolumeLimits({}, overrides, seeded=False)
    rows = con.execute(
        f"select kind, name, max_growth, max_shrink from {VOLUME_LIMITS_TABLE}"
    ).fetchall()
    return VolumeLimits(
        {(kind, name): (growth, shrink) for kind, name, growth, shrink in rows}, overrides
    )


def volume_failure(
    what: str, now: int, before: int, limits: VolumeLimits, kind: str, name: str
) -> str | None:
    """One line when `now` grew or shrank to a bound of (kind, name) against `before`, else
    None; `what` names the count ('web_events has 9 raw rows'). Bounds are inclusive."""
    if before <= 0:
        return None
    growth, shrink = limits.bound(kind, name, "growth"), limits.bound(kind, name, "shrink")
    if growth.value is not None and at_or_above(now / before, growth.value):
        hint = "a duplicated or appended export?" if kind == "source" else "a fan-out join?"
        return (
            f"volume: {what}, {before:,} in the last published run ({now / before:.1f}x, at "
            f"or above {growth.value:g}x: {hint}); limit: {growth.origin}"
        )
    if shrink.value is not None and at_or_above((before - now) / before, shrink.value):
        hint = "a truncated export?" if kind == "source" else "a lost join or filter?"
        return (
            f"volume: {what}, {before:,} in the last published run ({1 - now / before:.0%} "
            f"fewer, at or above {shrink.value:.0%}: {hint}); limit: {shrink.origin}"
        )
    return None


def mart_volume_failures(
    new: dict[str, int], old: dict[str, int], limits: VolumeLimits
) -> list[str]:
    """Marts whose row count reached their growth or shrink bound against the serving file;
    a mart missing from the new build counts as 0 rows."""
    failures = []
    for table, before in sorted(old.items()):
        now = new.get(table, 0)
        name = table.split(".", 1)[-1]
        failure = volume_failure(f"{table} has {now:,} rows", now, before, limits, "mart", name)
        if failure:
            failures.append(failure)
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


def at_or_above(value: float, bound: float) -> bool:
    """value >= bound, with a bound met exactly in decimal also met in binary floating point
    (1 - 0.9 is 0.09999999999999998: a drop of exactly 90 % must still count)."""
    return value >= bound - 1e-9


def source_volume_failures(
    new: dict[str, dict[str, int]], old: dict[str, dict[str, int]], limits: VolumeLimits
) -> list[str]:
    """Sources whose raw or staged row count reached their growth bound against the last
    published run, or lost their shrink bound of its rows or more (both bounds fail: a
    tenfold jump is a duplicated export, not growth). A source is compared on the counts
    both runs have (a file published before staged_rows was kept has raw rows only)."""
    failures = []
    for source in sorted(old.keys() & new.keys()):
        for count in ("raw", "staged"):
            if count not in old[source] or count not in new[source]:
                continue
            before, now = old[source][count], new[source][count]
            what = f"{source} has {now:,} {count} rows"
            failure = volume_failure(what, now, before, limits, "source", source)
            if failure:
                failures.append(failure)
    return failures


def _source_rows(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]] | None:
    """source -> {'raw': n, 'staged': n} of audit.source_reconciliation (no 'staged' in a file
    published before the column existed)."""
    if not _has_table(con, RECONCILIATION_TABLE):
        return None
    schema, table = RECONCILIATION_TABLE.split(".")
    columns = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    staged = "staged_rows" if "staged_rows" in columns else "null"
    rows = con.execute(
        f"select source_name, raw_rows, {staged} from {RECONCILIATION_TABLE}"
    ).fetchall()
    return {
        source: {"raw": int(raw)} | ({} if staged_rows is None else {"staged": int(staged_rows)})
        for source, raw, staged_rows in rows
    }


def _quarantine_limits(con: duckdb.DuckDBPyConnection) -> dict[str, float] | None:
    if not _has_table(con, QUARANTINE_LIMITS_TABLE):
        return None
    rows = con.execute(
        f"select source_name, max_quarantine_rate from {QUARANTINE_LIMITS_TABLE}"
    ).fetchall()
    return {source: float(limit) for source, limit in rows}


def _has_table(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    [(found,)] = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(found)


def publish(work: Path, serving: Path, record: RunRecord) -> None:
    """Copy the published schemas of `work` into a new file and move it over `serving`.

    The current serving file is only read (its run history), never locked for writing: a
    reader holding it, even read-write, does not block the swap (os.replace of an open file
    is a rename on Linux; the reader keeps the old version until it reconnects).
    """
    serving.parent.mkdir(parents=True, exist_ok=True)
    staged = serving.with_name(f".{serving.name}.{record.run_id}.tmp")
    staged.unlink(missing_ok=True)
    previous = read_published(serving)
    if previous is not None:
        record.notes += [note for note in previous.notes if note not in record.notes]
    try:
        _write_staged(staged, work, previous, record, serving)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, serving)
    except (duckdb.Error, OSError) as error:
        if not is_disk_full(error):
            raise
        staged_bytes = staged.stat().st_size if staged.exists() else 0
        staged.unlink(missing_ok=True)
        _wal(staged).unlink(missing_ok=True)
        raise PublishFailed(_disk_full_message(serving, staged_bytes)) from None
    finally:
        staged.unlink(missing_ok=True)
        _wal(staged).unlink(missing_ok=True)
    from segwarehouse.activation.contacts import write_activation_file  # here: cycle

    write_activation_file(work, serving, record.run_id)
    record_published(work, serving, record.run_id)


def _write_staged(
    staged: Path, work: Path, previous: PublishedState | None, record: RunRecord, serving: Path
) -> None:
    """The new serving file at `staged` (storage version SERVING_STORAGE_VERSION): the
    published schemas with comments and primary keys, and the run history."""
    with duckdb.connect() as con:
        attach_serving(con, staged)
        con.execute("begin transaction")
        record.notes += _copy_published_schemas(con, work)
        record.serving = str(serving)
        con.execute(_RUNS_DDL)
        if previous is not None:
            _insert_runs(con, previous.runs)
        con.execute(
            f"insert into {RUNS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.run_id,
                record.as_of_date,
                record.started_at,
                datetime.now(UTC).isoformat(timespec="microseconds"),
                "published",
                json.dumps(record.rows_per_mart, sort_keys=True),
                record.checks_passed,
                record.checks_failed,
                record.synthetic,
            ],
        )
        con.execute("commit")
        con.execute("checkpoint")
        con.execute("use memory")
        con.execute("detach serving")


def is_disk_full(error: BaseException) -> bool:
    """Whether an error is a full disk or quota: OSError ENOSPC/EDQUOT, or DuckDB's I/O error
    carrying the operating system's message."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(error) for text in (os.strerror(errno.ENOSPC), "Disk quota exceeded"))


def _disk_full_message(serving: Path, staged_bytes: int) -> str:
    free = shutil.disk_usage(serving.parent).free
    current = serving.stat().st_size if serving.is_file() else 0
    return (
        f"publish failed: no space left on device in {serving.parent} after writing "
        f"{staged_bytes / 2**20:.1f} MB of the new file ({free / 2**20:.1f} MB free now, the "
        f"current serving file is {current / 2**20:.1f} MB); {serving} left as it was and the "
        "partial file removed: free space there (a publish needs about the serving file's size "
        "again) and rerun"
    )


def _copy_published_schemas(con: duckdb.DuckDBPyConnection, work: Path) -> list[str]:
    """Copy the published tables of `work` into the current catalog with their comments and
    grain keys; notes for keys the data broke."""
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
    keys = _grain_keys()
    notes = [copy_table(con, "work", schema, table, keys.get(table)) for schema, table in tables]
    con.execute("detach work")
    return [note for note in notes if note]


def _grain_keys() -> dict[str, tuple[str, ...]]:
    """The dbt project's grain keys (serving_file.grain_keys): the project this package runs
    from, else the one around the working directory; {} outside a project."""
    for start in (Path(__file__).parent, None):
        try:
            return grain_keys(find_project_dir(start))
        except FileNotFoundError:
            continue
    return {}


_RUNS_DDL = f"""
create table if not exists {RUNS_TABLE} (
    run_id varchar, as_of_date varchar, started_at varchar, finished_at varchar,
    status varchar, rows_per_mart json, checks_passed integer, checks_failed integer,
    synthetic boolean
)
"""


def _insert_runs(con: duckdb.DuckDBPyConnection, runs: list[dict]) -> None:
    """Carry the previous serving file's run history over (by column name: files published
    before a column existed have it null)."""
    for run in runs:
        names = list(run)
        con.execute(
            f"insert into {RUNS_TABLE} ({', '.join(names)}) "
            f"values ({', '.join('?' for _ in names)})",
            [run[name] for name in names],
        )


@dataclass
class PublishedState:
    """What the current serving file holds, as far as the audit and publish need it."""

    mart_counts: dict[str, int]
    source_rows: dict[str, int] | None
    runs: list[dict]
    notes: list[str] = field(default_factory=list)
    # (source, reason) -> quarantined rows; None for a file published before the table existed
    quarantine_counts: dict[tuple[str, str], int] | None = None

    @property
    def last_run(self) -> dict | None:
        """The latest published run (by finished_at), None for a file without history."""
        return max(self.runs, key=lambda run: str(run.get("finished_at")), default=None)

    @property
    def holds_real_data(self) -> bool:
        """True unless the last published run is marked synthetic (unknown counts as real)."""
        last = self.last_run
        return last is None or last.get("synthetic") is not True


def read_published(serving: Path) -> PublishedState | None:
    """Mart row counts, source rows and run history of the serving file; None when there is
    none. A reader holding it read-write (DuckDB's lock) does not stop this: a copy is read."""
    if not serving.is_file():
        return None
    try:
        return _read_published(serving)
    except duckdb.Error as error:
        holder = duckdb_lock_holder(error)
        if holder is None:
            raise
    copy = serving.with_name(f".{serving.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(serving, copy)
        state = _read_published(copy)
    finally:
        copy.unlink(missing_ok=True)
        _wal(copy).unlink(missing_ok=True)
    state.notes.append(
        f"serving: {serving} is held read-write by pid {holder[1] or '?'}; read a copy "
        "(readers should connect read-only, docs/bi.md)"
    )
    return state


def _read_published(path: Path) -> PublishedState:
    with duckdb.connect(str(path), read_only=True) as con:
        runs: list[dict] = []
        if _has_table(con, RUNS_TABLE):
            result = con.execute(f"select * from {RUNS_TABLE}")
            names = [column[0] for column in result.description]
            runs = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        return PublishedState(
            _table_counts(con, ("marts",)),
            _source_rows(con),
            runs,
            quarantine_counts=_quarantine_counts(con),
        )


def _quarantine_counts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int] | None:
    if not _has_table(con, QUARANTINE_COUNTS_TABLE):
        return None
    rows = con.execute(
        f"select source_name, quarantine_reason, quarantined_rows from {QUARANTINE_COUNTS_TABLE}"
    ).fetchall()
    return {(source, reason): int(count) for source, reason, count in rows}


def quarantine_summary(work: Path, serving: Path) -> list[str]:
    """One line per (source, reason) whose quarantined rows grew against the last published
    run (all of them on a first run), or one line saying none did: printed at the end of every
    refresh, so an upstream format change is seen the day it happens."""
    with duckdb.connect(str(work), read_only=True) as con:
        now = _quarantine_counts(con)
    if now is None:
        return [f"quarantine: no {QUARANTINE_COUNTS_TABLE} in the work warehouse"]
    published = read_published(serving)
    before = published.quarantine_counts if published else None
    grown = sorted(key for key, count in now.items() if count > (before or {}).get(key, 0))
    if not grown:
        total = sum(now.values())
        return [f"quarantine: no reason grew since the last published run ({total:,} rows in all)"]

    def was(key: tuple[str, str]) -> str:
        if before is None:
            return "no published count to compare with"
        return f"{before.get(key, 0):,} in the last published run"

    return [
        f"quarantine: {source} {reason} {now[(source, reason)]:,} rows ({was((source, reason))}); "
        "see audit.quarantined_rows"
        for source, reason in grown
    ]


def published_run_id(serving: Path) -> str | None:
    """The run_id of the version in the serving file (its latest audit.publish_runs row)."""
    state = read_published(serving)
    last = state.last_run if state else None
    return str(last["run_id"]) if last else None


# --- the work warehouse's state: last build, last publish ------------------------------------


def state_path(work: Path) -> Path:
    """`<work>.state.json`: the last build by refresh and the run last published from it."""
    return work.with_name(work.name + ".state.json")


def read_state(work: Path) -> dict:
    """The work warehouse's recorded state ({} when none was recorded)."""
    try:
        state = json.loads(state_path(work).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def record_build(
    work: Path,
    run_id: str,
    status: str,
    failures: list[str] | None = None,
    synthetic: bool = False,
) -> None:
    """Record a build of the work warehouse: 'running' (which also forgets the last publish:
    the file is being rewritten), then 'passed', 'tests_failed' or 'failed'."""
    state = read_state(work)
    if status == "running":
        state.pop("published", None)
    state["build"] = {
        "run_id": run_id,
        "status": status,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "failures": (failures or [])[:20],
        "synthetic": synthetic,
    }
    _write_state(work, state)


def record_published(work: Path, serving: Path, run_id: str) -> None:
    """Record that run_id was published from the work warehouse as it is now (its size and
    modification time: any later write to it makes it unpublished)."""
    state = read_state(work)
    state["published"] = {
        "run_id": run_id,
        "serving": str(serving.resolve()),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **file_fingerprint(work),
    }
    _write_state(work, state)


def unpublished_reason(work: Path, serving: Path) -> str | None:
    """Why the work warehouse is not the version in the serving file, or None when it is:
    its state names the serving file's latest run and the file has not been written since."""
    run_id = published_run_id(serving)
    if run_id is None:
        return f"{serving} holds no published run: run `segwarehouse refresh` first"
    published = read_state(work).get("published") or {}
    if published.get("run_id") != run_id:
        build = read_state(work).get("build") or {}
        since = (
            f" (its last build, run {build.get('run_id')}, {build.get('status')})" if build else ""
        )
        return (
            f"{work} does not hold run {run_id} published in {serving}{since}: "
            "run `segwarehouse refresh` and export after it publishes"
        )
    if not work.is_file() or file_fingerprint(work) != {
        key: published.get(key) for key in ("size", "mtime_ns")
    }:
        return (
            f"{work} changed after run {run_id} was published from it (a dbt build or check "
            "outside refresh?): run `segwarehouse refresh` and export after it publishes"
        )
    return None


def _write_state(work: Path, state: dict) -> None:
    path = state_path(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


# --- the refresh ------------------------------------------------------------------------------


def refresh(
    work: Path,
    serving: Path,
    as_of_date: date | None,
    build: Callable[[], list[str]] | None,
    docs_dir: Path | None = None,
    config: GateConfig | None = None,
    log: Callable[[str], None] = print,
    synthetic: bool = False,
    freshness: Callable[[RunRecord, Callable[[str], None]], int] | None = None,
) -> tuple[int, RunRecord]:
    """Build (if `build` is given), audit, publish; return the exit code and the run record.

    `build` runs dbt and returns the failures as 'error: …' / 'test: …' strings ([] = built).
    `synthetic`: the landing folder holds generated demo data (marks the run; the publish
    refuses it over a serving file holding real data). `freshness` (freshness.gate) runs
    after the build; a non-zero code from it stops the refresh before the audit. Raises
    RefreshLocked or BusyFile when another process holds a lock (one line each).
    """
    config = config or GateConfig()
    record = RunRecord(
        run_id=uuid.uuid4().hex,
        as_of_date=as_of_date.isoformat() if as_of_date else None,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        synthetic=synthetic,
    )
    code = EXIT_ERROR
    try:
        with refresh_lock(serving, log), work_lock(work, log):
            code = _refresh_locked(work, serving, build, docs_dir, config, record, log, freshness)
    except (RefreshLocked, BusyFile) as error:
        record.failures.append(f"locked: {error}")
        record.status = "locked"
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
    freshness: Callable[[RunRecord, Callable[[str], None]], int] | None = None,
) -> int:
    for line in clean_leftovers(serving):
        record.notes.append(line)
        log(line)
    require_unlocked(work)
    refusal = _skip_build_refusal(work, record) if build is None else None
    refusal = refusal or _synthetic_refusal(serving, record)
    if refusal:
        record.failures.append(refusal)
        record.status = "refused"
        log(f"refused: {refusal}")
        return EXIT_QUALITY
    gate_import = _start_gate_import()
    if build is not None:
        code = _build(work, build, record, log)
        if code != EXIT_OK:
            return code
    if freshness is not None and (code := freshness(record, log)) != EXIT_OK:
        return code
    return _audit_and_publish(work, serving, docs_dir, config, record, log, gate_import)


def _start_gate_import() -> threading.Thread:
    """Import the gate's runner (Great Expectations: about 3 s of Python) on a thread, so that
    it overlaps the build or the erasure sweep, whose DuckDB and subprocess waits release the
    GIL. Not a daemon: interpreter shutdown never meets a half-done import."""
    thread = threading.Thread(target=_import_gate, name="import-gate")
    thread.start()
    return thread


def _import_gate() -> None:
    # An error here is raised again, with its traceback, by the gate's import in the caller.
    with contextlib.suppress(Exception):
        importlib.import_module("segwarehouse.quality.runner")


def _build(
    work: Path, build: Callable[[], list[str]], record: RunRecord, log: Callable[[str], None]
) -> int:
    log(f"refresh {record.run_id}: dbt build into {work}")
    record_build(work, record.run_id, "running", synthetic=record.synthetic)
    build_failures = build()
    only_tests = all(item.startswith("test") for item in build_failures)
    status = "passed" if not build_failures else "tests_failed" if only_tests else "failed"
    record_build(work, record.run_id, status, build_failures, record.synthetic)
    if not build_failures:
        return EXIT_OK
    record.failures += build_failures
    record.status = "failed_audit" if only_tests else "error"
    log("dbt build failed; serving file left as it was:")
    for line in build_failures:
        log(f"  {line}")
    return EXIT_QUALITY if only_tests else EXIT_ERROR


def _audit_and_publish(
    work: Path,
    serving: Path,
    docs_dir: Path | None,
    config: GateConfig,
    record: RunRecord,
    log: Callable[[str], None],
    gate_import: threading.Thread,
) -> int:
    with busy_file(_work_hint):
        record.notes += erase(work, record.run_id).lines()
    log(f"refresh {record.run_id}: data-quality checks")
    gate_import.join()
    from segwarehouse.quality import run_checks  # Great Expectations: imported when it runs

    with busy_file(_work_hint):
        report = run_checks(work, docs_dir=docs_dir, run_id=record.run_id)
        record.checks_failed = len(report.failures)
        record.checks_passed = len(report.outcomes) - record.checks_failed
        record.failures += [line.strip() for line in report.summary_lines()[1:]]
        record.failures += volume_checks(work, serving, config, record.notes)
        record.failures += privacy_findings(work, PUBLISHED_SCHEMAS, set(WITHHELD_TABLES))
        with duckdb.connect(str(work), read_only=True) as con:
            record.rows_per_mart = _table_counts(con, ("marts",))
    record.notes += quarantine_summary(work, serving)
    for line in report.summary_lines()[:1] + record.notes:
        log(line)
    if record.failures:
        record.status = "failed_audit"
        log(f"audit failed ({len(record.failures)} findings); {serving} left as it was:")
        for line in record.failures:
            log(f"  {line}")
        return EXIT_QUALITY
    try:
        with busy_file(_work_hint):
            publish(work, serving, record)
    except PublishFailed as error:
        record.failures.append(str(error))
        record.status = "error"
        log(str(error))
        return EXIT_ERROR
    record.status = "published"
    log(f"published {serving} ({sum(record.rows_per_mart.values()):,} mart rows)")
    return EXIT_OK


def clean_leftovers(serving: Path) -> list[str]:
    """Remove what interrupted publishes left beside the serving file (`.<name>.<id>.tmp`
    and its `.tmp.wal`); one line saying what was removed, [] when nothing was. Call it only
    while holding the refresh lock: no other publish can be writing them."""
    leftovers = sorted(
        {
            *serving.parent.glob(f".{serving.name}.*.tmp"),
            *serving.parent.glob(f".{serving.name}.*.tmp.wal"),
        }
    )
    for path in leftovers:
        path.unlink(missing_ok=True)
    if not leftovers:
        return []
    names = ", ".join(path.name for path in leftovers)
    return [f"cleaned {len(leftovers)} leftover file(s) of an interrupted publish: {names}"]


def require_unlocked(work: Path) -> None:
    """Raise BusyFile (one line, the pid) when another process holds the work warehouse:
    an orphaned dbt of a killed refresh, or a reader; the build and audit need to write it."""
    if work.is_file():
        with busy_file(_work_hint):
            duckdb.connect(str(work)).close()


def _work_hint(pid: int | None) -> str:
    if is_dbt(pid):
        return (
            f"an orphaned dbt of a killed refresh, or a dbt run of your own: stop it "
            f"(kill {pid}) or let it finish, then rerun"
        )
    return "close that connection (read the work warehouse only while no refresh runs), then rerun"


def _skip_build_refusal(work: Path, record: RunRecord) -> str | None:
    """--skip-build: why the work warehouse must not be audited as it is (its last build by
    refresh failed, its tests failed or it never finished), else None. Takes the synthetic
    flag of the build. A warehouse never built by refresh is audited, with a note."""
    build = read_state(work).get("build")
    if not build:
        record.notes.append(
            f"skip-build: no build recorded in {state_path(work)} (built outside refresh): "
            "its dbt test results are not checked"
        )
        return None
    record.synthetic = bool(build.get("synthetic")) or record.synthetic
    status = build.get("status")
    if status == "passed":
        return None
    what = {
        "running": "did not finish (killed?)",
        "tests_failed": "had failing dbt tests",
        "failed": "failed",
    }.get(str(status), f"ended {status}")
    failures = ", ".join(build.get("failures") or [])
    return (
        f"the last build of {work} (run {build.get('run_id')}) {what}"
        + (f" [{failures[:200]}]" if failures else "")
        + ": --skip-build publishes only a passing build; run `segwarehouse refresh` without it"
    )


def _synthetic_refusal(serving: Path, record: RunRecord) -> str | None:
    if not record.synthetic:
        return None
    published = read_published(serving)
    if published is None or not published.holds_real_data:
        return None
    last = published.last_run
    run = f" (run {last.get('run_id')})" if last else " (no marked run)"
    return (
        f"the landing data is generated demo data and {serving} holds real data{run}: "
        "not publishing synthetic over it; point SEGMENTS_SERVING at another file for the "
        "demo (a file published before runs were marked counts as real: delete an old demo "
        "one), or land real files"
    )


def dbt_build_subprocess(project_dir: Path, dbt_vars: dict[str, str] | None) -> list[str]:
    """`dbt build` (without unit tests: SCHEDULED_BUILD) in a child process; [] on success,
    else the failed node ids."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or project_dir / "target")
    results = target / "run_results.json"
    results.unlink(missing_ok=True)
    args = [*SCHEDULED_BUILD, "--target-path", str(target)]
    completed = run_dbt(project_dir, args, dbt_vars=dbt_vars)
    if completed.success:
        return []
    try:
        nodes = json.loads(results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        nodes = []
    failed = [str(n["unique_id"]) for n in nodes if n.get("status") in {"error", "fail"}]
    return failed or [f"error: dbt build exited {completed.returncode} before running nodes"]


def _append_log(serving: Path, record: RunRecord) -> None:
    """Append the run to `<serving>.runs.jsonl`; on a full disk say so on stderr instead of
    hiding the run's own outcome behind a second error."""
    path = serving.with_name(serving.name + ".runs.jsonl")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
    except OSError as error:
        if not is_disk_full(error):
            raise
        print(f"run record not appended to {path}: {error.strerror}", file=sys.stderr)


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
