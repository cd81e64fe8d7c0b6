"""The restricted activation file: the contact data the exports of the published run need.

Written at publish time (segwarehouse.publish calls `write_activation_file` right after the
serving file is swapped in), from the work warehouse as the audit passed it, to a separate file
beside the serving file (`<serving stem>.activation.duckdb`, mode 0600). `segwarehouse export`
reads only the serving file and this file, so a later failed build (which rewrites the work
warehouse) no longer stops the exports of the published run. The serving file never holds the
unsalted SHA-256 the ads platforms require (it falls to enumeration; docs/privacy.md).

Tables (schema main):
- `run`: the run_id and when the file was written (export refuses a file of another run);
- `destinations`: the seed audience_destinations as the run built it (headers, rules);
- `contacts`: one row per exported (audience_id, customer_key) of marts.audience_exports, with
  the raw email for email-platform rows, and for ads rows the email and phone normalised by the
  destination's rules (phones by `phonenumbers` from the number as it landed and the
  customer's country) and hashed; `phone_status` says why a phone hash is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from segwarehouse.activation.identifiers import normalize_email, phone_for, sha256_hex, to_e164

ACTIVATION_SUFFIX = ".activation.duckdb"
FILE_MODE = 0o600
CONTACT_COLUMNS = (
    "audience_id",
    "customer_key",
    "destination_id",
    "email",
    "email_sha256",
    "phone_sha256",
    "phone_status",
)

# Exported rows with what the rules need. The phone: the golden record's (survivorship picks
# which), as it landed in the CRM record that supplied it (staging's SQL normaliser drops the
# Italian leading 0, so it is re-read from the raw text), with that record's country.
SOURCE_TABLES = (
    "marts.audience_exports",
    "reference.audience_destinations",
    "intermediate.int_customer_golden_records",
    "intermediate.int_identity_record_keys",
    "staging.base_crm__customers",
)
_SOURCE_SQL = """
with raw_phones as (
    select keys.customer_key, golden.phone,
           min(crm.{phone_original}) as phone_original,
           min(crm.country_code) as country_code
    from work.intermediate.int_customer_golden_records as golden
    inner join work.intermediate.int_identity_record_keys as keys
        on keys.customer_key = golden.customer_key and keys.record_type = 'crm_customer'
    inner join work.staging.base_crm__customers as crm
        on crm.customer_id = keys.record_id and crm.row_status = 'staged'
        and crm.phone = golden.phone
    group by keys.customer_key, golden.phone
)
select exports.audience_id, exports.customer_key, exports.destination_id,
       destinations.destination_kind, destinations.email_normalization,
       destinations.phone_format, golden.email, raw_phones.phone_original,
       coalesce(raw_phones.country_code, golden.country_code) as country_code,
       golden.phone
from work.marts.audience_exports as exports
inner join work.reference.audience_destinations as destinations
    on exports.destination_id = destinations.destination_id
left join work.intermediate.int_customer_golden_records as golden
    on exports.customer_key = golden.customer_key
left join raw_phones on exports.customer_key = raw_phones.customer_key
order by exports.audience_id, exports.customer_key
"""


@dataclass(frozen=True)
class ActivationFile:
    """What write_activation_file wrote."""

    path: Path
    run_id: str
    rows: int
    phones_unparsed: int


def activation_path(serving: Path) -> Path:
    """`<serving stem>.activation.duckdb` beside the serving file (never the serving file)."""
    return serving.with_name(serving.stem + ACTIVATION_SUFFIX)


def contact_row(source: dict) -> tuple:
    """One `contacts` row from one exported row with its raw email, phone and country."""
    base = (source["audience_id"], source["customer_key"], source["destination_id"])
    if source["destination_kind"] == "email_platform":
        return (*base, source["email"], None, None, None)
    email = normalize_email(source["email"], source["email_normalization"])
    e164 = to_e164(source["phone_original"], source["country_code"])
    status = None
    if e164 is None:
        status = "no_phone" if not source["phone"] else "unparsed"
    phone = phone_for(e164, source["phone_format"])
    return (*base, None, sha256_hex(email), sha256_hex(phone), status)


def write_activation_file(work: Path, serving: Path, run_id: str) -> ActivationFile | None:
    """Write the activation file of run_id (published from `work` into `serving`): a new file
    under a temporary name, mode 0600, renamed over the previous one. None (and no file) when
    the work warehouse has no activation marts."""
    target = activation_path(serving)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        _remove(leftover)  # of a killed publish (callers hold the refresh lock)
    try:
        with duckdb.connect() as con:
            con.execute("attach ? as work (read_only)", [str(work.resolve())])
            columns = _work_columns(con)
            if not set(SOURCE_TABLES) <= {table for table, _ in columns}:
                # A build without the activation marts: no contacts to export. Remove the
                # file of an earlier run, so no export can pair it with this one.
                _remove(target)
                return None
            # A work warehouse built before base_crm__customers kept the raw phone: read the
            # staged E.164 instead (phonenumbers re-parses it).
            raw_phone = (
                "phone_original"
                if ("staging.base_crm__customers", "phone_original") in columns
                else "phone"
            )
            relation = con.sql(_SOURCE_SQL.format(phone_original=raw_phone))
            names = relation.columns
            rows = [contact_row(dict(zip(names, row, strict=True))) for row in relation.fetchall()]
            destinations = con.sql("select * from work.reference.audience_destinations").df()
        with _private_umask(), duckdb.connect(str(temporary)) as out:
            out.execute("create table run (run_id varchar, serving varchar, written_at varchar)")
            out.execute(
                "insert into run values (?, ?, ?)",
                [run_id, str(serving), datetime.now(UTC).isoformat(timespec="seconds")],
            )
            out.register("destinations_frame", destinations)
            out.execute("create table destinations as select * from destinations_frame")
            columns = ", ".join(f"{name} varchar" for name in CONTACT_COLUMNS)
            out.execute(f"create table contacts ({columns})")
            contacts = pd.DataFrame(rows, columns=list(CONTACT_COLUMNS), dtype=object)
            out.register("contacts_frame", contacts)
            out.execute("insert into contacts select * from contacts_frame")
            out.execute("checkpoint")
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    finally:
        _remove(temporary)
    unparsed = sum(1 for row in rows if row[-1] == "unparsed")
    return ActivationFile(target, run_id, len(rows), unparsed)


def _work_columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = con.execute(
        "select schema_name || '.' || table_name, column_name from duckdb_columns() "
        "where database_name = 'work'"
    ).fetchall()
    return {(table, column) for table, column in rows}


@contextmanager
def _private_umask() -> Iterator[None]:
    """Files created inside (the database and its WAL) get mode 0600 from the start, so no
    other user can open them even before the final chmod (DuckDB creates the file itself)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
