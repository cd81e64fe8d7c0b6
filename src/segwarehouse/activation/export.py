"""Write the audience files of the published run: one file per active audience, plus a manifest.

Only audited data leaves: the audiences and their rows are read from the serving file (the
version the write-audit-publish gate published, segwarehouse.publish), never from the work
warehouse, which holds whatever the last build wrote even when its refresh failed. The
warehouse decides who is in a file (marts.audience_exports: treatment arm, not erased,
consent for the destination's channel as of as_of_date, reachable); this module only writes
what it says, read-only. Ads destinations get the two SHA-256 columns and nothing else; email
platforms get customer_key, the email and segment attributes. Emails and the ads hashes are
joined from the unpublished activation.audience_candidates of the work warehouse (never in the
serving file: an unsalted SHA-256 of a phone falls to enumeration; docs/privacy.md), and only
while the work warehouse still holds the published run (publish.unpublished_reason); otherwise
the export refuses. The manifest names the run_id. Files go to `<export dir>/<as_of_date>/`,
each written under a temporary name and renamed into place; manifest.json is written last the
same way, so a reader that starts from the manifest only ever sees complete files whose sha256
and row count it can check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segwarehouse.locks import busy_file
from segwarehouse.publish import published_run_id, unpublished_reason
from segwarehouse.settings import find_project_dir

EXPORT_DIR_ENV = "SEGMENTS_EXPORT_DIR"
DEFAULT_EXPORT_DIR = "warehouse/exports"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2  # 2: run_id and serving of the published run the files came from
FORMATS = ("csv", "parquet")
REQUIRED_TABLES = ("marts.audience_summary", "marts.audience_exports")
CANDIDATES_TABLE = "activation.audience_candidates"

# The columns of each destination kind's file, in order.
FILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ads_customer_match": ("email_sha256", "phone_sha256"),
    "email_platform": (
        "customer_key",
        "email",
        "segment_id",
        "rfm_segment",
        "lifecycle_stage",
        "clv_band",
    ),
}

_SUMMARY_SQL = """
select audience_id, audience_name, experiment_id, segment_id, segment_version, destination_id,
       destination_kind, consent_channel, holdout_share, exported_count, as_of_date
from marts.audience_summary
order by audience_id
"""

# One audience's rows from the serving file; $1 = audience_id. The contact data (email-platform
# emails, the ads platforms' unsalted SHA-256 hashes) comes from the work warehouse's
# unpublished candidates table: the published mart has none (docs/privacy.md).
_ROWS_SQL = """
select exports.customer_key, candidates.email, candidates.email_sha256, candidates.phone_sha256,
       exports.segment_id, exports.rfm_segment, exports.lifecycle_stage, exports.clv_band
from marts.audience_exports as exports
left join work.activation.audience_candidates as candidates
    on exports.audience_id = candidates.audience_id
    and exports.customer_key = candidates.customer_key
where exports.audience_id = $1
"""
_SERVING_HINT = (
    "a reader holds the serving file read-write; readers should connect read-only "
    "(docs/bi.md). Close it, then rerun"
)


@dataclass(frozen=True)
class ExportedFile:
    """One audience file, as listed in the manifest."""

    audience_id: str
    audience_name: str
    experiment_id: str
    segment_id: str
    segment_version: int | None
    destination_id: str
    destination_kind: str
    consent_channel: str
    holdout_share: float
    columns: list[str]
    row_count: int
    file: str
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    """What one export run wrote."""

    folder: Path
    manifest: Path
    as_of_date: date
    generated_at: datetime
    files: list[ExportedFile]
    run_id: str


def export_dir_from_env(project_dir: Path | None = None) -> Path:
    """$SEGMENTS_EXPORT_DIR, default warehouse/exports; relative paths from the project root."""
    path = Path(os.environ.get(EXPORT_DIR_ENV, DEFAULT_EXPORT_DIR)).expanduser()
    if path.is_absolute():
        return path
    return (project_dir or find_project_dir()) / path


def export_audiences(
    serving: Path,
    work: Path,
    out_dir: Path,
    fmt: str = "csv",
    audience_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write one file per active audience (or the given ones) of the run published in
    `serving` and the manifest; return them. `work` is the work warehouse that published it,
    read for the contact data only (emails, the ad platforms' hashes).

    Raises FileNotFoundError (no serving file), ValueError (no published run, the work
    warehouse no longer holds it, unknown audience) or BusyFile, each with a one-line message.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not serving.is_file():
        raise FileNotFoundError(
            f"no serving file at {serving}: export writes only the audited, published version; "
            "run `segwarehouse refresh` (or `make run`) first"
        )
    generated_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    with busy_file(_SERVING_HINT):
        run_id = published_run_id(serving)
        if run_id is None:
            raise ValueError(f"{serving} holds no published run (audit.publish_runs)")
        with duckdb.connect() as con:
            con.execute("attach ? as serving (read_only)", [str(serving)])
            con.execute("use serving")
            _require_tables(con, serving)
            audiences = _audiences(con, audience_ids)
            _attach_published_work(con, work, serving)
            as_of_date = _single_as_of_date(audiences)
            folder = out_dir / as_of_date.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            files = [_write_audience(con, audience, folder, fmt) for audience in audiences]
    manifest = folder / MANIFEST_NAME
    document = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "serving": str(serving),
        "generated_at": generated_at.isoformat(),
        "as_of_date": as_of_date.isoformat(),
        "format": fmt,
        "files": [asdict(file) for file in files],
    }
    _atomic_write_bytes(manifest, (json.dumps(document, indent=2) + "\n").encode())
    return ExportResult(folder, manifest, as_of_date, generated_at, files, run_id)


def _attach_published_work(con: duckdb.DuckDBPyConnection, work: Path, serving: Path) -> None:
    """Attach the work warehouse (read-only) for the contact data (emails, ad-platform
    hashes), only if it holds the published run; else refuse: its candidates may be those of
    a failed, unaudited build."""
    reason = unpublished_reason(work, serving)
    if reason:
        raise ValueError(f"audiences need the published run's contact data: {reason}")
    con.execute("attach ? as work (read_only)", [str(work)])
    [(found,)] = con.execute(
        "select count(*) from duckdb_tables() where database_name = 'work' "
        "and schema_name = 'activation' and table_name = 'audience_candidates'"
    ).fetchall()
    if not found:
        raise ValueError(f"{work} has no {CANDIDATES_TABLE}: build it with models/marts/activation")


def file_name(audience_id: str, destination_id: str, fmt: str) -> str:
    """The file of one audience: `<audience_id>__<destination_id>.<fmt>`."""
    return f"{audience_id}__{destination_id}.{fmt}"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require_tables(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    present = {
        f"{schema}.{table}"
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
    }
    missing = sorted(set(REQUIRED_TABLES) - present)
    if missing:
        raise ValueError(
            f"{warehouse} has no {', '.join(missing)}: publish a build that includes "
            "models/marts/activation (segwarehouse refresh)"
        )


def _audiences(con: duckdb.DuckDBPyConnection, audience_ids: Sequence[str] | None) -> list[dict]:
    relation = con.sql(_SUMMARY_SQL)
    names = relation.columns
    rows = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    if not rows:
        raise ValueError("marts.audience_summary has no active audience: nothing to export")
    if audience_ids:
        known = {row["audience_id"] for row in rows}
        unknown = sorted(set(audience_ids) - known)
        if unknown:
            raise ValueError(
                f"no active audience {', '.join(unknown)} (active: {', '.join(sorted(known))})"
            )
        rows = [row for row in rows if row["audience_id"] in set(audience_ids)]
    for row in rows:
        if row["destination_kind"] not in FILE_COLUMNS:
            raise ValueError(
                f"audience {row['audience_id']}: unknown destination kind "
                f"{row['destination_kind']!r}"
            )
    return rows


def _single_as_of_date(audiences: list[dict]) -> date:
    dates = {row["as_of_date"] for row in audiences}
    if len(dates) != 1:
        raise ValueError(f"marts.audience_summary mixes as_of_dates: {sorted(dates)}")
    return dates.pop()


def _write_audience(
    con: duckdb.DuckDBPyConnection, audience: dict, folder: Path, fmt: str
) -> ExportedFile:
    columns = FILE_COLUMNS[audience["destination_kind"]]
    name = file_name(audience["audience_id"], audience["destination_id"], fmt)
    target = folder / name
    temporary = _temporary_path(target)
    relation = con.sql(_ROWS_SQL, params=[audience["audience_id"]])
    relation = relation.select(*columns).order(", ".join(columns))
    try:
        if fmt == "csv":
            relation.write_csv(str(temporary), header=True)
        else:
            relation.write_parquet(str(temporary))
        row_count = _rows_in_file(con, temporary, fmt)
        if row_count != audience["exported_count"]:
            raise ValueError(
                f"audience {audience['audience_id']}: wrote {row_count} rows but "
                f"audience_summary counts {audience['exported_count']}: rebuild the warehouse"
            )
        digest = sha256_of(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return ExportedFile(
        audience_id=audience["audience_id"],
        audience_name=audience["audience_name"],
        experiment_id=audience["experiment_id"],
        segment_id=audience["segment_id"],
        segment_version=audience["segment_version"],
        destination_id=audience["destination_id"],
        destination_kind=audience["destination_kind"],
        consent_channel=audience["consent_channel"],
        holdout_share=audience["holdout_share"],
        columns=list(columns),
        row_count=row_count,
        file=name,
        sha256=digest,
    )


def _rows_in_file(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> int:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    options = "" if fmt == "parquet" else ", header = true, all_varchar = true"
    [(count,)] = con.sql(
        f"select count(*) from {reader}($1{options})", params=[str(path)]
    ).fetchall()
    return int(count)


def _temporary_path(target: Path) -> Path:
    # Same folder (so os.replace is a rename on one filesystem), hidden, unique per process.
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", target.name):
        raise ValueError(f"unsafe file name {target.name!r}")
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    temporary = _temporary_path(target)
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
