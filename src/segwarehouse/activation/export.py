"""Write the upload-ready audience files of the published run, their changes since the previous
export, and a manifest.

Only audited data leaves: audiences and their members come from the serving file (the version
the write-audit-publish gate published, segwarehouse.publish), the contact data (email-platform
emails, the ads platforms' unsalted SHA-256 hashes) from the restricted activation file the
same publish wrote beside it (segwarehouse.activation.contacts; never in the serving file: an
unsalted SHA-256 of a phone falls to enumeration, docs/privacy.md). The export refuses an
activation file of another run. The work warehouse is not read, so a failed build after the
publish does not stop the exports.

Each destination's file uses the platform's documented headers and normalisation (seed
audience_destinations; docs/activation.md): Google Ads Customer Match `Email,Phone`, Meta
custom audiences `email,phone`, a reverse-ETL table `audience_id,customer_key,email_sha256,
phone_sha256`; email platforms get customer_key, the email and segment attributes. Beside each
full file, `.additions` and `.removals` files hold the rows added and removed since the
previous export in the same folder tree (people who left the audience, revoked consent or were
erased are in the removals). Everything is written under temporary names and renamed into place
only when every file is complete; manifest.json (run id, counts, sha256 of every file) last, so
a reader that starts from the manifest only ever sees complete files it can check.

Retention: after a successful export only the newest `keep` export folders (by the manifest's
generated_at; $SEGMENTS_EXPORT_KEEP, default 2: this one and the one its changes were computed
against) stay; older ones are deleted. So a person erased or removed from an audience leaves
the export folder after `keep` more exports (docs/erasure.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segwarehouse.activation.contacts import activation_path
from segwarehouse.locks import busy_file
from segwarehouse.publish import published_run_id
from segwarehouse.settings import find_project_dir

EXPORT_DIR_ENV = "SEGMENTS_EXPORT_DIR"
EXPORT_KEEP_ENV = "SEGMENTS_EXPORT_KEEP"
DEFAULT_EXPORT_KEEP = 2
DEFAULT_EXPORT_DIR = "warehouse/exports"
MANIFEST_NAME = "manifest.json"
# 2: run_id of the published run; 3: per-destination headers, additions/removals files
MANIFEST_VERSION = 3
FORMATS = ("csv", "parquet")
REQUIRED_TABLES = ("marts.audience_summary", "marts.audience_exports")
HASHED_KIND = "ads_customer_match"
KEY_COLUMNS = ("audience_id", "customer_key")
EMAIL_PLATFORM_COLUMNS = (
    "customer_key",
    "email",
    "segment_id",
    "rfm_segment",
    "lifecycle_stage",
    "clv_band",
)
# The columns that identify a person in an email-platform file (additions / removals).
EMAIL_PLATFORM_KEYS = ("customer_key", "email")

_SUMMARY_SQL = """
select audience_id, audience_name, experiment_id, segment_id, segment_version, destination_id,
       destination_kind, consent_channel, holdout_share, exported_count, as_of_date,
       is_activation_blocked, activation_block_reason, activation_block_detail
from serving.marts.audience_summary
order by audience_id
"""

# One audience's members from the serving file with their contact data from the activation
# file; $1 = audience_id.
_ROWS_SQL = """
select exports.audience_id, exports.customer_key, contacts.email, contacts.email_sha256,
       contacts.phone_sha256, exports.segment_id, exports.rfm_segment, exports.lifecycle_stage,
       exports.clv_band, contacts.customer_key is not null as has_contacts
from serving.marts.audience_exports as exports
left join activation.contacts as contacts
    on exports.audience_id = contacts.audience_id
    and exports.customer_key = contacts.customer_key
where exports.audience_id = $1
"""
_SERVING_HINT = (
    "a reader holds the serving file read-write; readers should connect read-only "
    "(docs/bi.md). Close it, then rerun"
)


@dataclass(frozen=True)
class ChangeFile:
    """The additions or removals of one audience since the previous export."""

    file: str
    row_count: int
    sha256: str


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
    # exported members left out because no identifier survived the destination's rules
    no_identifier_count: int
    additions: ChangeFile
    removals: ChangeFile
    # True when there is no comparable previous file: upload the full file as the whole list
    replace_list: bool


@dataclass(frozen=True)
class ExportResult:
    """What one export run wrote."""

    folder: Path
    manifest: Path
    as_of_date: date
    generated_at: datetime
    files: list[ExportedFile]
    run_id: str
    previous_run_id: str | None
    pruned: list[Path] = field(default_factory=list)
    blocked: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """A destination's file: (source column, header) pairs, and the headers that identify a
    person (compared between exports for the additions and removals)."""

    columns: tuple[tuple[str, str], ...]
    identity: tuple[str, ...]

    @property
    def headers(self) -> list[str]:
        return [header for _, header in self.columns]


def layout_for(destination: dict) -> Layout:
    """The file layout of a destination (a row of seed audience_destinations)."""
    kind = destination.get("destination_kind")
    name = destination.get("destination_id")
    if kind == "email_platform":
        return Layout(tuple((c, c) for c in EMAIL_PLATFORM_COLUMNS), EMAIL_PLATFORM_KEYS)
    if kind != HASHED_KIND:
        raise ValueError(f"destination {name}: unknown destination_kind {kind!r}")
    keys = tuple((destination.get("key_columns") or "").split())
    unknown = sorted(set(keys) - set(KEY_COLUMNS))
    if unknown:
        raise ValueError(
            f"destination {name}: key_columns {' '.join(unknown)} unknown "
            f"(seed audience_destinations; use {' '.join(KEY_COLUMNS)})"
        )
    email, phone = destination.get("email_column"), destination.get("phone_column")
    if not email or not phone:
        raise ValueError(
            f"destination {name}: email_column and phone_column are required for "
            f"{HASHED_KIND} (seed audience_destinations)"
        )
    columns = (*((key, key) for key in keys), ("email_sha256", email), ("phone_sha256", phone))
    headers = [header for _, header in columns]
    if len(set(headers)) != len(headers):
        raise ValueError(f"destination {name}: repeated column header in {headers}")
    return Layout(columns, tuple(headers))


def export_dir_from_env(project_dir: Path | None = None) -> Path:
    """$SEGMENTS_EXPORT_DIR, default warehouse/exports; relative paths from the project root."""
    path = Path(os.environ.get(EXPORT_DIR_ENV, DEFAULT_EXPORT_DIR)).expanduser()
    if path.is_absolute():
        return path
    return (project_dir or find_project_dir()) / path


def export_audiences(
    serving: Path,
    out_dir: Path,
    fmt: str = "csv",
    audience_ids: Sequence[str] | None = None,
    now: datetime | None = None,
    activation: Path | None = None,
    keep: int | None = None,
) -> ExportResult:
    """Write one file per active audience (or the given ones) of the run published in
    `serving`, its additions and removals since the previous export under `out_dir`, and the
    manifest; return them. `activation` defaults to the file beside `serving`. Then delete
    the export folders older than the newest `keep` ($SEGMENTS_EXPORT_KEEP, default 2).

    Raises FileNotFoundError (no serving or activation file), ValueError (no published run,
    an activation file of another run, unknown audience) or BusyFile, each one line.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not serving.is_file():
        raise FileNotFoundError(
            f"no serving file at {serving}: export writes only the audited, published version; "
            "run `segwarehouse refresh` (or `make run`) first"
        )
    activation = activation or activation_path(serving)
    generated_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    previous = _previous_manifest(out_dir)
    staged: list[tuple[Path, Path]] = []
    try:
        with busy_file(_SERVING_HINT):
            run_id = published_run_id(serving)
            if run_id is None:
                raise ValueError(f"{serving} holds no published run (audit.publish_runs)")
            with duckdb.connect() as con:
                con.execute("attach ? as serving (read_only)", [str(serving)])
                _require_tables(con, serving)
                audiences, blocked = _split_blocked(_audiences(con, audience_ids))
                _attach_activation(con, activation, run_id)
                destinations = _destinations(con)
                as_of_date = _single_as_of_date(audiences)
                folder = out_dir / as_of_date.isoformat()
                folder.mkdir(parents=True, exist_ok=True)
                files = [
                    _write_audience(
                        con,
                        audience,
                        _layout(destinations, audience),
                        folder,
                        fmt,
                        _previous_file(previous, audience),
                        staged,
                    )
                    for audience in audiences
                ]
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    previous_run_id = previous["document"].get("run_id") if previous else None
    manifest = folder / MANIFEST_NAME
    document = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "serving": str(serving),
        "generated_at": generated_at.isoformat(),
        "as_of_date": as_of_date.isoformat(),
        "format": fmt,
        "previous_export": _previous_summary(previous),
        "files": [asdict(file) for file in files],
        "blocked": blocked,
    }
    _atomic_write_bytes(manifest, (json.dumps(document, indent=2) + "\n").encode())
    pruned = prune_exports(out_dir, export_keep_from_env() if keep is None else keep)
    return ExportResult(
        folder, manifest, as_of_date, generated_at, files, run_id, previous_run_id, pruned, blocked
    )


def _split_blocked(audiences: list[dict]) -> tuple[list[dict], list[dict]]:
    """The audiences to write, and those governance blocks (audience_activation_gates: segment
    version not approved, or fewer eligible members than min_size) with their reason. A blocked
    audience gets no file at all: an empty upload would empty the platform's list. Raises
    ValueError when every audience asked for is blocked."""
    blocked = [
        {
            "audience_id": row["audience_id"],
            "reason": row["activation_block_reason"],
            "detail": row["activation_block_detail"],
        }
        for row in audiences
        if row["is_activation_blocked"]
    ]
    allowed = [row for row in audiences if not row["is_activation_blocked"]]
    if not allowed:
        reasons = "; ".join(f"{row['audience_id']}: {row['detail']}" for row in blocked)
        raise ValueError(
            f"every audience asked for is blocked by governance ({reasons}): nothing exported; "
            "see marts.audience_summary.activation_block_reason"
        )
    return allowed, blocked


def export_keep_from_env() -> int:
    """$SEGMENTS_EXPORT_KEEP (a whole number >= 1), default DEFAULT_EXPORT_KEEP."""
    text = os.environ.get(EXPORT_KEEP_ENV, "").strip()
    if not text:
        return DEFAULT_EXPORT_KEEP
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{EXPORT_KEEP_ENV}={text!r}: give how many export folders to keep, a whole "
            "number of at least 1 (2 keeps this export and the one its changes are against)"
        )
    return int(text)


def prune_exports(out_dir: Path, keep: int) -> list[Path]:
    """Delete the export folders under out_dir older than the newest `keep` (by their
    manifest's generated_at); return them. Only folders holding an export manifest are
    candidates: nothing else under out_dir is touched."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    exports = sorted(
        _manifests(out_dir), key=lambda item: str(item["document"].get("generated_at"))
    )
    old = [item["folder"] for item in exports[:-keep]]
    for folder in old:
        shutil.rmtree(folder)
    return old


def _attach_activation(con: duckdb.DuckDBPyConnection, activation: Path, run_id: str) -> None:
    """Attach the activation file (read-only) if it belongs to the published run; else refuse:
    its contact data would be another run's."""
    if not activation.is_file():
        raise FileNotFoundError(
            f"no activation file at {activation}: the publish of run {run_id} writes it beside "
            "the serving file; run `segwarehouse refresh` and export after it publishes"
        )
    con.execute("attach ? as activation (read_only)", [str(activation)])
    try:
        [(holds,)] = con.execute("select max(run_id) from activation.run").fetchall()
    except duckdb.CatalogException as error:
        raise ValueError(f"{activation} is not an activation file (no run table)") from error
    if holds != run_id:
        raise ValueError(
            f"{activation} holds run {holds}, the serving file run {run_id}: the publish did not "
            "finish writing it; run `segwarehouse refresh` and export after it publishes"
        )


def _destinations(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    relation = con.sql("select * from activation.destinations")
    names = relation.columns
    rows = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    return {row["destination_id"]: row for row in rows}


def _layout(destinations: dict[str, dict], audience: dict) -> Layout:
    destination = destinations.get(audience["destination_id"])
    if destination is None:
        raise ValueError(
            f"audience {audience['audience_id']}: destination {audience['destination_id']} "
            "is not in the activation file's destinations"
        )
    return layout_for(destination)


def file_name(audience_id: str, destination_id: str, fmt: str, part: str = "") -> str:
    """`<audience_id>__<destination_id>[.additions|.removals].<fmt>`."""
    suffix = f".{part}" if part else ""
    return f"{audience_id}__{destination_id}{suffix}.{fmt}"


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
            "select schema_name, table_name from duckdb_tables() where database_name = 'serving'"
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
    return rows


def _single_as_of_date(audiences: list[dict]) -> date:
    dates = {row["as_of_date"] for row in audiences}
    if len(dates) != 1:
        raise ValueError(f"marts.audience_summary mixes as_of_dates: {sorted(dates)}")
    return dates.pop()


# --- the previous export -------------------------------------------------------------------


def _previous_manifest(out_dir: Path) -> dict | None:
    """The latest manifest under out_dir (by generated_at), with its folder; None if none."""
    return max(
        _manifests(out_dir),
        key=lambda item: str(item["document"].get("generated_at")),
        default=None,
    )


def _manifests(out_dir: Path) -> list[dict]:
    """Every export manifest directly under out_dir's folders, with its folder and path."""
    found = []
    for path in out_dir.glob(f"*/{MANIFEST_NAME}"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and isinstance(document.get("files"), list):
            found.append({"folder": path.parent, "path": path, "document": document})
    return found


def _previous_summary(previous: dict | None) -> dict | None:
    if previous is None:
        return None
    document = previous["document"]
    return {
        "run_id": document.get("run_id"),
        "as_of_date": document.get("as_of_date"),
        "generated_at": document.get("generated_at"),
        "manifest": str(previous["path"]),
    }


def _previous_file(previous: dict | None, audience: dict) -> tuple[Path, dict] | None:
    """The previous export's full file of this audience and destination, if it is still there
    and unchanged (its sha256 matches the manifest)."""
    if previous is None:
        return None
    for entry in previous["document"]["files"]:
        if (entry.get("audience_id"), entry.get("destination_id")) != (
            audience["audience_id"],
            audience["destination_id"],
        ):
            continue
        path = previous["folder"] / str(entry.get("file"))
        if path.is_file() and sha256_of(path) == entry.get("sha256"):
            return path, entry
    return None


# --- writing -------------------------------------------------------------------------------


def _write_audience(
    con: duckdb.DuckDBPyConnection,
    audience: dict,
    layout: Layout,
    folder: Path,
    fmt: str,
    previous: tuple[Path, dict] | None,
    staged: list[tuple[Path, Path]],
) -> ExportedFile:
    audience_id = audience["audience_id"]
    identifier = "email" if audience["destination_kind"] == "email_platform" else None
    members = con.sql(_ROWS_SQL, params=[audience_id])
    [(missing,)] = members.filter("not has_contacts").aggregate("count(*)").fetchall()
    if missing:
        raise ValueError(
            f"audience {audience_id}: {missing} members have no row in the activation file: "
            "run `segwarehouse refresh`"
        )
    usable = (
        "email is not null"
        if identifier
        else "email_sha256 is not null or phone_sha256 is not null"
    )
    [(no_identifier,)] = members.filter(f"not ({usable})").aggregate("count(*)").fetchall()
    projection = ", ".join(f"{source} as {_quote(header)}" for source, header in layout.columns)
    order = ", ".join(_quote(header) for header in layout.headers)
    table = f"current_{_safe(audience_id)}"
    members.filter(usable).select(projection).order(order).create(table)
    name = file_name(audience_id, audience["destination_id"], fmt)
    row_count = _stage_file(con, f"select * from {table}", folder / name, fmt, staged)
    if row_count + no_identifier != audience["exported_count"]:
        raise ValueError(
            f"audience {audience_id}: wrote {row_count} rows (+{no_identifier} without an "
            f"identifier) but audience_summary counts {audience['exported_count']}: "
            "rebuild the warehouse"
        )
    additions, removals, replace = _stage_changes(
        con, table, layout, previous, folder, name, fmt, staged
    )
    return ExportedFile(
        audience_id=audience_id,
        audience_name=audience["audience_name"],
        experiment_id=audience["experiment_id"],
        segment_id=audience["segment_id"],
        segment_version=audience["segment_version"],
        destination_id=audience["destination_id"],
        destination_kind=audience["destination_kind"],
        consent_channel=audience["consent_channel"],
        holdout_share=audience["holdout_share"],
        columns=layout.headers,
        row_count=row_count,
        file=name,
        sha256=sha256_of(_temporary_path(folder / name)),
        no_identifier_count=int(no_identifier),
        additions=additions,
        removals=removals,
        replace_list=replace,
    )


def _stage_changes(
    con: duckdb.DuckDBPyConnection,
    table: str,
    layout: Layout,
    previous: tuple[Path, dict] | None,
    folder: Path,
    name: str,
    fmt: str,
    staged: list[tuple[Path, Path]],
) -> tuple[ChangeFile, ChangeFile, bool]:
    """Stage the additions and removals files: identity columns of the rows in this export
    and not in the previous one, and the reverse. Without a comparable previous file
    (none, changed, or other columns) every row is an addition and the manifest says to
    replace the list."""
    identity = ", ".join(_quote(header) for header in layout.identity)
    comparable = previous is not None and previous[1].get("columns") == layout.headers
    if comparable:
        path, _ = previous
        reader = (
            f"read_parquet('{_literal(path)}')"
            if path.suffix == ".parquet"
            else f"read_csv('{_literal(path)}', header = true, all_varchar = true)"
        )
        old = f"select {identity} from {reader}"
    else:
        old = f"select {identity} from {table} where false"
    new = f"select {identity} from {table}"
    stem = name.rsplit(".", 1)[0]
    changes = []
    for part, sql in (
        ("additions", f"select distinct * from ({new} except {old}) order by all"),
        ("removals", f"select distinct * from ({old} except {new}) order by all"),
    ):
        target = folder / f"{stem}.{part}.{fmt}"
        count = _stage_file(con, sql, target, fmt, staged)
        changes.append(ChangeFile(target.name, count, sha256_of(_temporary_path(target))))
    return changes[0], changes[1], not comparable


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    target: Path,
    fmt: str,
    staged: list[tuple[Path, Path]],
) -> int:
    """Write the rows of `sql` to a temporary file beside `target` (renamed by the caller once
    every file is written); return the rows the file holds."""
    temporary = _temporary_path(target)
    staged.append((temporary, target))
    relation = con.sql(sql)
    if fmt == "csv":
        relation.write_csv(str(temporary), header=True)
    else:
        relation.write_parquet(str(temporary))
    return _rows_in_file(con, temporary, fmt)


def _rows_in_file(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> int:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    options = "" if fmt == "parquet" else ", header = true, all_varchar = true"
    [(count,)] = con.sql(
        f"select count(*) from {reader}($1{options})", params=[str(path)]
    ).fetchall()
    return int(count)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


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
