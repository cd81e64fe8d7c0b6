"""Each destination's file against the platform's documented format, without dbt.

A tiny work warehouse with the tables the activation file reads (the seed audience_destinations
as committed) is published with publish.publish, which writes the restricted activation file;
the export then writes each destination's file. Expected values are the platforms' documented
normalisations written out by hand (docs/activation.md, "Destination formats"):
- Google Ads Customer Match: headers `Email`, `Phone`; SHA-256 of the trimmed, lower-case email
  (gmail.com dots removed) and of the E.164 phone with '+';
- Meta custom audiences: headers `email`, `phone`; SHA-256 of the trimmed, lower-case email and
  of the phone as digits with the country code, no '+';
- reverse-ETL table: `audience_id`, `customer_key`, `email_sha256`, `phone_sha256` (E.164 '+').
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import PROJECT_DIR
from segwarehouse import publish
from segwarehouse.activation import export as export_module
from segwarehouse.activation.contacts import activation_path
from segwarehouse.activation.export import export_audiences, layout_for
from segwarehouse.activation.identifiers import normalize_email, phone_for, to_e164

SEED = PROJECT_DIR / "seeds" / "activation" / "audience_destinations.csv"
AS_OF = "2026-06-30"

# (customer_key, CRM id, email as landed, phone as landed, country)
PEOPLE = [
    ("cus_a", "C1", "  Anna.Rossi@GMail.com ", "06 1234 5678", "IT"),
    ("cus_b", "C2", "bob@example.org", "+1 (650) 253-1234", "US"),
    ("cus_c", "C3", None, "020 7031 3000", "GB"),
    ("cus_d", "C4", "dora@example.de", None, "DE"),
    ("cus_e", "C5", None, "not a phone", "FR"),  # nothing usable: left out, counted
]
AUDIENCES = {
    "aud_google": "google_ads_customer_match",
    "aud_meta": "meta_custom_audience",
    "aud_retl": "reverse_etl_table",
    "aud_email": "email_platform",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seed_rows() -> dict[str, dict]:
    with SEED.open(newline="") as handle:
        rows = [{k: v or None for k, v in row.items()} for row in csv.DictReader(handle)]
    return {row["destination_id"]: row for row in rows}


def make_work(path: Path, members: dict[str, list[str]]) -> None:
    """A work warehouse holding only what publish and the activation file read."""
    destinations = seed_rows()
    with duckdb.connect(str(path)) as con:
        for schema in ("marts", "audit", "reference", "intermediate", "staging"):
            con.execute(f"create schema {schema}")
        con.execute(
            "create table reference.audience_destinations as "
            f"select * from read_csv('{SEED}', all_varchar = true)"
        )
        con.execute(
            "create table intermediate.int_customer_golden_records "
            "(customer_key varchar, email varchar, phone varchar, country_code varchar)"
        )
        con.execute(
            "create table intermediate.int_identity_record_keys "
            "(customer_key varchar, record_type varchar, record_id varchar)"
        )
        con.execute(
            "create table staging.base_crm__customers (customer_id varchar, phone varchar, "
            "phone_original varchar, country_code varchar, row_status varchar)"
        )
        for key, crm_id, email, phone, country in PEOPLE:
            # staging's SQL normaliser: a stand-in value, the test is about phone_original
            staged = None if phone is None else "+0" + "".join(filter(str.isdigit, phone))
            con.execute(
                "insert into intermediate.int_customer_golden_records values (?, ?, ?, ?)",
                [key, email, staged, country],
            )
            con.execute(
                "insert into intermediate.int_identity_record_keys values (?, 'crm_customer', ?)",
                [key, crm_id],
            )
            con.execute(
                "insert into staging.base_crm__customers values (?, ?, ?, ?, 'staged')",
                [crm_id, staged, phone, country],
            )
        con.execute(
            "create table marts.audience_exports (audience_id varchar, customer_key varchar, "
            "destination_id varchar, segment_id varchar, rfm_segment varchar, "
            "lifecycle_stage varchar, clv_band varchar)"
        )
        con.execute(
            "create table marts.audience_summary (audience_id varchar, audience_name varchar, "
            "experiment_id varchar, segment_id varchar, segment_version integer, "
            "destination_id varchar, destination_kind varchar, consent_channel varchar, "
            "holdout_share double, exported_count bigint, as_of_date date, "
            "is_activation_blocked boolean default false, activation_block_reason varchar, "
            "activation_block_detail varchar)"
        )
        for audience, destination in AUDIENCES.items():
            keys = members.get(audience, [])
            for key in keys:
                con.execute(
                    "insert into marts.audience_exports values (?, ?, ?, 'seg', 'Champions', "
                    "'active', 'high')",
                    [audience, key, destination],
                )
            kind = destinations[destination]["destination_kind"]
            channel = destinations[destination]["consent_channel"]
            con.execute(
                "insert into marts.audience_summary values "
                "(?, ?, 'exp', 'seg', 1, ?, ?, ?, 0.1, ?, ?, false, null, null)",
                [audience, audience, destination, kind, channel, len(keys), AS_OF],
            )


def publish_run(root: Path, run_id: str, members: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    work, serving = root / f"{run_id}.duckdb", root / "serving.duckdb"
    make_work(work, members)
    publish.publish(work, serving, publish.RunRecord(run_id, AS_OF, "2026-07-01T00:00:00"))
    return serving


EVERYONE = [person[0] for person in PEOPLE]
ALL_MEMBERS = {audience: EVERYONE for audience in AUDIENCES}


@pytest.fixture
def first_export(tmp_path: Path) -> tuple[Path, Path, dict]:
    serving = publish_run(tmp_path / "pub", "run-1", ALL_MEMBERS)
    result = export_audiences(serving, tmp_path / "out")
    manifest = json.loads(result.manifest.read_text())
    return serving, result.folder, {entry["audience_id"]: entry for entry in manifest["files"]}


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def test_italian_landline_keeps_its_leading_zero() -> None:
    assert to_e164("06 1234 5678", "IT") == "+390612345678"
    assert to_e164("+39 06 1234 5678", None) == "+390612345678"
    assert to_e164("0039 06 1234 5678", "IT") == "+390612345678"
    # the hand-written SQL normaliser (macros/normalize/normalize_phone.sql) drops it
    assert phone_for(to_e164("06 1234 5678", "IT"), "e164_digits") == "390612345678"


def test_phone_parsing_edges() -> None:
    assert to_e164("(650) 253-1234", "US") == "+16502531234"
    assert to_e164("001 650 253 1234", "US") == "+16502531234"  # '00' written in the US
    assert to_e164("020 7031 3000", "GB") == "+442070313000"
    assert to_e164("not a phone", "FR") is None
    assert to_e164("720.622.0519", "FR") is None  # ten national digits: impossible in France
    assert to_e164("", "US") is None and to_e164(None, "US") is None
    with pytest.raises(ValueError, match="unknown phone_format"):
        phone_for("+1", "e.164")


def test_email_rules() -> None:
    assert normalize_email("  Anna.Rossi@GMail.com ", "basic") == "anna.rossi@gmail.com"
    assert normalize_email("  Anna.Rossi@GMail.com ", "google") == "annarossi@gmail.com"
    assert normalize_email("a.b@example.org", "google") == "a.b@example.org"
    assert normalize_email("   ", "basic") is None
    with pytest.raises(ValueError, match="unknown email_normalization"):
        normalize_email("a@b.c", "lower")


def test_google_customer_match_file(first_export: tuple[Path, Path, dict]) -> None:
    _, folder, entries = first_export
    entry = entries["aud_google"]
    rows = read(folder, entry["file"])
    assert list(rows.columns) == ["Email", "Phone"] == entry["columns"]
    expected = {
        (sha("annarossi@gmail.com"), sha("+390612345678")),
        (sha("bob@example.org"), sha("+16502531234")),
        ("", sha("+442070313000")),
        (sha("dora@example.de"), ""),
    }
    assert set(zip(rows["Email"], rows["Phone"], strict=True)) == expected
    assert entry["row_count"] == 4 and entry["no_identifier_count"] == 1


def test_meta_custom_audience_file(first_export: tuple[Path, Path, dict]) -> None:
    _, folder, entries = first_export
    entry = entries["aud_meta"]
    rows = read(folder, entry["file"])
    assert list(rows.columns) == ["email", "phone"]
    expected = {
        (sha("anna.rossi@gmail.com"), sha("390612345678")),
        (sha("bob@example.org"), sha("16502531234")),
        ("", sha("442070313000")),
        (sha("dora@example.de"), ""),
    }
    assert set(zip(rows["email"], rows["phone"], strict=True)) == expected
    assert "+" not in (folder / entry["file"]).read_text()


def test_reverse_etl_table_file(first_export: tuple[Path, Path, dict]) -> None:
    _, folder, entries = first_export
    entry = entries["aud_retl"]
    rows = read(folder, entry["file"])
    assert list(rows.columns) == ["audience_id", "customer_key", "email_sha256", "phone_sha256"]
    by_key = rows.set_index("customer_key")
    assert (by_key["audience_id"] == "aud_retl").all()
    assert by_key.loc["cus_a", "email_sha256"] == sha("anna.rossi@gmail.com")
    assert by_key.loc["cus_a", "phone_sha256"] == sha("+390612345678")
    assert "cus_e" not in by_key.index


def test_email_platform_file_keeps_the_raw_email(first_export: tuple[Path, Path, dict]) -> None:
    _, folder, entries = first_export
    rows = read(folder, entries["aud_email"]["file"])
    assert list(rows.columns)[:2] == ["customer_key", "email"]
    assert set(rows["email"]) == {"  Anna.Rossi@GMail.com ", "bob@example.org", "dora@example.de"}


def test_first_export_is_all_additions_and_says_replace(
    first_export: tuple[Path, Path, dict],
) -> None:
    _, folder, entries = first_export
    for entry in entries.values():
        assert entry["replace_list"] is True
        assert entry["additions"]["row_count"] == entry["row_count"]
        assert entry["removals"]["row_count"] == 0
        for part in ("additions", "removals"):
            path = folder / entry[part]["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry[part]["sha256"]


def test_next_export_lists_who_left_and_who_joined(
    first_export: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    serving, folder, _ = first_export
    later = {audience: ["cus_b", "cus_c", "cus_d"] for audience in AUDIENCES}
    publish_run(tmp_path / "pub", "run-2", later)
    result = export_audiences(serving, folder.parent)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["run_id"] == "run-2"
    assert manifest["previous_export"]["run_id"] == "run-1"
    entries = {entry["audience_id"]: entry for entry in manifest["files"]}
    google = entries["aud_google"]
    assert not google["replace_list"]
    removed = read(folder, google["removals"]["file"])
    assert list(removed.columns) == ["Email", "Phone"]
    assert set(zip(removed["Email"], removed["Phone"], strict=True)) == {
        (sha("annarossi@gmail.com"), sha("+390612345678"))
    }
    assert google["additions"]["row_count"] == 0
    email = read(folder, entries["aud_email"]["removals"]["file"])
    assert list(email.columns) == ["customer_key", "email"]
    assert email.to_dict("records") == [
        {"customer_key": "cus_a", "email": "  Anna.Rossi@GMail.com "}
    ]


def test_activation_file_is_private_and_belongs_to_the_run(
    first_export: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    serving, _, _ = first_export
    activation = activation_path(serving)
    assert activation != serving and activation.parent == serving.parent
    assert stat.S_IMODE(os.stat(activation).st_mode) == 0o600
    with duckdb.connect(str(serving), read_only=True) as con:
        text = " ".join(
            str(value)
            for row in con.sql("select * from marts.audience_exports").fetchall()
            for value in row
        )
    assert sha("+390612345678") not in text
    # a serving file of another run (the activation write failed after the swap) is refused
    with duckdb.connect(str(activation)) as con:
        con.execute("update run set run_id = 'run-0'")
    with pytest.raises(ValueError, match="holds run run-0, the serving file run run-1"):
        export_audiences(serving, tmp_path / "refused")
    activation.unlink()
    with pytest.raises(FileNotFoundError, match="no activation file at"):
        export_audiences(serving, tmp_path / "refused")


def test_layout_errors_name_the_destination() -> None:
    google = seed_rows()["google_ads_customer_match"]
    with pytest.raises(ValueError, match="destination google_ads_customer_match: key_columns"):
        layout_for({**google, "key_columns": "email"})
    with pytest.raises(ValueError, match="email_column and phone_column are required"):
        layout_for({**google, "phone_column": None})
    with pytest.raises(ValueError, match="unknown destination_kind"):
        layout_for({**google, "destination_kind": "sms"})
    assert export_module.layout_for(google).headers == ["Email", "Phone"]


def test_older_export_folders_are_deleted_after_keep_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention: a person who left (or was erased) is in the files of the export before and in
    the removals of the one after; both folders go once `keep` newer exports exist. Nothing
    under the export folder that is not an export is touched."""
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "readme.txt").write_text("not an export")
    folders = []
    for day, members in enumerate((EVERYONE, ["cus_b", "cus_c", "cus_d"], ["cus_b"]), start=1):
        serving = publish_run(tmp_path / "pub", f"run-{day}", dict.fromkeys(AUDIENCES, members))
        # One folder per as_of_date: each export here is a day later.
        with duckdb.connect(str(serving)) as con:
            con.execute(f"update marts.audience_summary set as_of_date = as_of_date + {day}")
        monkeypatch.setenv("SEGMENTS_EXPORT_KEEP", "2")
        result = export_audiences(serving, out, now=datetime(2026, 7, day, tzinfo=UTC))
        folders.append(result.folder)
        assert result.pruned == folders[:-2]
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [folders[1].name, folders[2].name, "notes"]
    )
    # cus_a (left at run 2) is in no file any more: its rows were in folders[0] (members) and
    # folders[1] (removals); folders[1] is still kept, so its removal is still on record.
    removals = [path for path in folders[1].iterdir() if ".removals." in path.name]
    assert removals
    monkeypatch.setenv("SEGMENTS_EXPORT_KEEP", "0")
    with pytest.raises(ValueError, match="SEGMENTS_EXPORT_KEEP='0'"):
        export_audiences(serving, out, now=datetime(2026, 7, 9, tzinfo=UTC))


def test_a_blocked_audience_gets_no_file_and_its_reason_in_the_manifest(tmp_path: Path) -> None:
    """Governance blocks an audience (audience_summary.is_activation_blocked): no file at all,
    not an empty one (uploading an empty file empties the platform's list); the manifest says
    why. Asking for blocked audiences only is an error naming them."""
    serving = publish_run(tmp_path / "pub", "run-1", ALL_MEMBERS)
    detail = "segment seg v1 has 3 eligible members, below its min_size 50"
    with duckdb.connect(str(serving)) as con:
        con.execute(
            "update marts.audience_summary set is_activation_blocked = true, "
            "activation_block_reason = 'below_min_size', activation_block_detail = ?, "
            "exported_count = 0 where audience_id = 'aud_google'",
            [detail],
        )
        con.execute("delete from marts.audience_exports where audience_id = 'aud_google'")
    result = export_audiences(serving, tmp_path / "out")
    manifest = json.loads(result.manifest.read_text())
    assert manifest["blocked"] == [
        {"audience_id": "aud_google", "reason": "below_min_size", "detail": detail}
    ]
    assert "aud_google" not in {entry["audience_id"] for entry in manifest["files"]}
    assert not [path for path in result.folder.iterdir() if "aud_google" in path.name]
    with pytest.raises(ValueError, match="every audience asked for is blocked by governance"):
        export_audiences(serving, tmp_path / "out2", audience_ids=["aud_google"])
