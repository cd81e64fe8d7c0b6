"""`segwarehouse export` on generated data: files and manifest agree with the warehouse, ads
files hold only hashes, writes are atomic; a consent revoked the day before as_of_date and an
erasure request remove a customer from the next build's files; the singular dbt tests catch a
non-consented, control or erased row put into the mart on purpose."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import (
    BUILD_VARS,
    NO_DATA_TESTS,
    PROJECT_DIR,
    Workspace,
    frame,
    linked_workspace,
    make_workspace,
)
from segwarehouse import publish
from segwarehouse.activation import export as export_module
from segwarehouse.activation import export_audiences
from segwarehouse.activation.contacts import activation_path
from segwarehouse.cli import main

GENERATED_AT = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
ADS_AUDIENCE = "win_back_google_ads"
EMAIL_AUDIENCE = "win_back_email"
HEX64 = r"[0-9a-f]{64}"


def read_export(path: Path) -> pd.DataFrame:
    """An export file as text columns (empty CSV fields = missing)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(object)
    return pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


@dataclass
class Published:
    """A work warehouse and the serving file a publish from it wrote (export's inputs)."""

    work: Path
    serving: Path
    run_id: str


def publish_copy(warehouse: Path, root: Path, run_id: str = "run-export") -> Published:
    """Publish a copy of a built warehouse (no audit: the tests here are about the export)."""
    root.mkdir(parents=True, exist_ok=True)
    work, serving = root / "work.duckdb", root / "serving.duckdb"
    shutil.copyfile(warehouse, work)
    publish.publish(work, serving, publish.RunRecord(run_id, None, "2026-07-01T00:00:00"))
    return Published(work, serving, run_id)


@pytest.fixture(scope="module")
def published(built: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_copy(built.warehouse, tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def exported(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published build exported as CSV; the folder of its as_of_date."""
    out = tmp_path_factory.mktemp("exports")
    result = export_audiences(published.serving, out, "csv", now=GENERATED_AT)
    assert result.run_id == published.run_id
    return result.folder


def test_manifest_matches_files_and_warehouse(built: Workspace, exported: Path) -> None:
    manifest = manifest_of(exported)
    summary = frame(built, "select * from marts.audience_summary").set_index("audience_id")
    assert manifest["as_of_date"] == BUILD_VARS["as_of_date"] == exported.name
    assert manifest["generated_at"] == GENERATED_AT.isoformat()
    assert manifest["format"] == "csv"
    assert manifest["run_id"] == "run-export"
    assert {entry["audience_id"] for entry in manifest["files"]} == set(summary.index)
    for entry in manifest["files"]:
        path = exported / entry["file"]
        rows = read_export(path)
        assert len(rows) == entry["row_count"]
        assert (
            entry["row_count"] + entry["no_identifier_count"]
            == summary.loc[entry["audience_id"], "exported_count"]
        )
        assert entry["replace_list"] and entry["additions"]["row_count"] == len(rows)
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert list(rows.columns) == entry["columns"]
        expected = summary.loc[entry["audience_id"]]
        for field in ("segment_id", "destination_id", "destination_kind", "consent_channel"):
            assert entry[field] == expected[field], field
        version = expected["segment_version"]
        assert entry["segment_version"] == (None if pd.isna(version) else int(version))
    assert sum(entry["row_count"] for entry in manifest["files"]) > 500
    assert not list(exported.glob(".*tmp"))


def _activation_contacts(serving: Path) -> pd.DataFrame:
    return frame(activation_path(serving), "select * from contacts")


def test_ads_files_hold_only_the_platforms_hashes(
    built: Workspace, published: Published, exported: Path
) -> None:
    """Each ads file has its platform's headers and holds exactly the activation file's hashes
    of the audience; emails hash as the dbt model hashes them (same rule), phones are the
    phonenumbers E.164 of the landed number (docs/activation.md)."""
    contacts = _activation_contacts(published.serving)
    sql_hashes = frame(
        built,
        "select audience_id, customer_key, email_sha256 from activation.audience_candidates "
        "where is_exported and destination_kind = 'ads_customer_match'",
    ).set_index(["audience_id", "customer_key"])["email_sha256"]
    entries = [
        e for e in manifest_of(exported)["files"] if e["destination_kind"] != "email_platform"
    ]
    headers = {
        "google_ads_customer_match": ["Email", "Phone"],
        "meta_custom_audience": ["email", "phone"],
    }
    assert {e["destination_id"] for e in entries} == set(headers)
    for entry in entries:
        text = (exported / entry["file"]).read_text()
        assert "@" not in text and "cus_" not in text and "+" not in text
        rows = read_export(exported / entry["file"])
        assert list(rows.columns) == headers[entry["destination_id"]]
        for column in rows.columns:
            assert rows[column].dropna().str.fullmatch(HEX64).all()
        ours = contacts[contacts["audience_id"] == entry["audience_id"]]
        ours = ours[ours["email_sha256"].notna() | ours["phone_sha256"].notna()]
        as_pairs = lambda df, a, b: sorted(  # noqa: E731
            (None if pd.isna(x) else x, None if pd.isna(y) else y)
            for x, y in zip(df[a], df[b], strict=True)
        )
        assert as_pairs(rows, *rows.columns) == as_pairs(ours, "email_sha256", "phone_sha256")
        emails = ours.set_index(["audience_id", "customer_key"])["email_sha256"]
        assert (emails.dropna() == sql_hashes.loc[emails.dropna().index]).all()
        assert rows[rows.columns[1]].notna().sum() > 50


def test_email_files_hold_consented_treatment_customers_and_their_email(
    built: Workspace, exported: Path
) -> None:
    golden = frame(
        built, "select customer_key, email from intermediate.int_customer_golden_records"
    ).set_index("customer_key")["email"]
    granted = set(
        frame(
            built,
            "select customer_key from intermediate.int_customer_consents "
            "where channel = 'email' and is_granted",
        )["customer_key"]
    )
    erased = set(
        frame(built, "select customer_key from intermediate.int_identity_erased_customer_keys")[
            "customer_key"
        ]
    )
    assignments = frame(
        built, "select experiment_id, customer_key, arm from marts.experiment_assignments"
    )
    entries = [
        e for e in manifest_of(exported)["files"] if e["destination_kind"] == "email_platform"
    ]
    assert len(entries) >= 3
    for entry in entries:
        rows = read_export(exported / entry["file"])
        assert len(rows) > 0
        assert (rows["email"] == golden.loc[rows["customer_key"]].to_numpy()).all()
        assert set(rows["customer_key"]) <= granted
        assert not set(rows["customer_key"]) & erased
        arms = assignments[assignments["experiment_id"] == entry["experiment_id"]].set_index(
            "customer_key"
        )["arm"]
        assert (arms.loc[rows["customer_key"]] == "treatment").all()
        controls = set(arms.index[arms == "control"])
        assert controls and not controls & set(rows["customer_key"])
        assert (rows["segment_id"] == entry["segment_id"]).all()


def test_parquet_export_holds_the_same_rows(
    published: Published, exported: Path, tmp_path: Path
) -> None:
    result = export_audiences(published.serving, tmp_path, "parquet", now=GENERATED_AT)
    as_csv = {entry["audience_id"]: entry for entry in manifest_of(exported)["files"]}
    for entry in manifest_of(result.folder)["files"]:
        assert entry["file"].endswith(".parquet")
        parquet_rows = read_export(result.folder / entry["file"])
        csv_rows = read_export(exported / as_csv[entry["audience_id"]]["file"])
        assert entry["row_count"] == len(parquet_rows) == len(csv_rows)
        pd.testing.assert_frame_equal(
            parquet_rows.reset_index(drop=True), csv_rows.astype(object).reset_index(drop=True)
        )


def test_rerun_writes_byte_identical_files(published: Published, exported: Path) -> None:
    before = {e["file"]: e["sha256"] for e in manifest_of(exported)["files"]}
    result = export_audiences(published.serving, exported.parent, "csv", now=GENERATED_AT)
    assert {file.file: file.sha256 for file in result.files} == before


def test_a_failed_export_leaves_the_previous_files_whole(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = export_audiences(published.serving, tmp_path, "csv", now=GENERATED_AT)
    snapshot = {path.name: path.read_bytes() for path in first.folder.iterdir()}
    real_count = export_module._rows_in_file
    calls = []

    def failing_count(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> int:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_count(con, path, fmt)

    monkeypatch.setattr(export_module, "_rows_in_file", failing_count)
    with pytest.raises(OSError, match="disk full"):
        export_audiences(
            published.serving,
            tmp_path,
            "csv",
            now=datetime(2026, 7, 2, tzinfo=UTC),
        )
    # The manifest (generated_at) is not rewritten, the file that failed is untouched, and no
    # temporary file is left behind.
    assert len(calls) == 2
    assert {path.name: path.read_bytes() for path in first.folder.iterdir()} == snapshot


def test_cli_export_writes_to_the_env_folder(
    published: Published,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setenv("SEGMENTS_EXPORT_DIR", str(tmp_path / "env_exports"))
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(published.work))
    monkeypatch.setenv("SEGMENTS_SERVING", str(published.serving))
    code = main(["export", "--audience", ADS_AUDIENCE, "--audience", EMAIL_AUDIENCE])
    assert code == 0
    folder = tmp_path / "env_exports" / BUILD_VARS["as_of_date"]
    manifest = manifest_of(folder)
    assert {e["audience_id"] for e in manifest["files"]} == {ADS_AUDIENCE, EMAIL_AUDIENCE}
    assert f"run_id {published.run_id}" in capsys.readouterr().out

    assert main(["export", "--audience", "no_such_audience"]) == 2
    assert "no_such_audience" in capsys.readouterr().err
    serving_like = tmp_path / "serving.duckdb"
    with duckdb.connect(str(serving_like)) as con:
        con.execute("create schema marts; create table marts.audience_summary (x int)")
    assert main(["export", "--serving", str(serving_like)]) == 2
    assert "holds no published run" in capsys.readouterr().err
    assert main(["export", "--serving", str(tmp_path / "absent.duckdb")]) == 2
    assert "no serving file at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as help_exit:
        main(["export", "--help"])
    assert help_exit.value.code == 0
    assert "Examples:" in capsys.readouterr().out


# --- a later build: consent revoked yesterday, revoked tomorrow, an erasure request -----------


@dataclass
class Revised:
    """A build on the generated data plus three privacy changes, and who they name."""

    workspace: Workspace
    folder: Path
    revoked_yesterday: str
    revoked_tomorrow: str
    erased: str


def _crm_id(built: Workspace, customer_key: str) -> str:
    [(record_id,)] = built.query(
        "select min(record_id) from marts.customer_record_map "
        f"where record_type = 'crm_customer' and customer_key = '{customer_key}'"
    )
    assert record_id is not None
    return record_id


def _append_rows(path: Path, rows: list[dict]) -> None:
    with path.open(newline="") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writerows([{name: row.get(name, "") for name in header} for row in rows])


@pytest.fixture(scope="module")
def revised(
    built: Workspace,
    generated: Path,
    exported: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Revised:
    # Exported CRM customers of the ads audience whose ads consent was last changed before
    # the day before as_of_date, and one of the email audience.
    candidates = frame(
        built,
        "select exports.customer_key, exports.audience_id from marts.audience_exports as exports "
        "inner join intermediate.int_customer_consents as consents "
        "on exports.customer_key = consents.customer_key "
        "and exports.consent_channel = consents.channel "
        "where consents.recorded_at < timestamp '2026-06-29 00:00:00' and exists ("
        "select 1 from marts.customer_record_map as records "
        "where records.customer_key = exports.customer_key "
        "and records.record_type = 'crm_customer') order by exports.customer_key",
    )
    ads = candidates[candidates["audience_id"] == ADS_AUDIENCE]["customer_key"].tolist()
    email = candidates[candidates["audience_id"] == EMAIL_AUDIENCE]["customer_key"].tolist()
    revoked_yesterday, revoked_tomorrow = ads[0], ads[1]
    erased = next(key for key in email if key not in (revoked_yesterday, revoked_tomorrow))

    root = tmp_path_factory.mktemp("revised")
    workspace = make_workspace(root)
    workspace.raw_dir.rmdir()
    shutil.copytree(generated / "raw", workspace.raw_dir)
    _append_rows(
        workspace.raw_dir / "consents.csv",
        [
            {
                "customer_id": _crm_id(built, revoked_yesterday),
                "channel": "ads",
                "status": "revoked",
                "recorded_at": "2026-06-29 18:30:00",
            },
            {
                # After as_of_date (2026-06-30) but within the load's clock tolerance: valid,
                # only not yet visible.
                "customer_id": _crm_id(built, revoked_tomorrow),
                "channel": "ads",
                "status": "revoked",
                "recorded_at": "2026-07-01 06:00:00",
            },
        ],
    )
    _append_rows(
        workspace.raw_dir / "erasure_requests.csv",
        [{"customer_id": _crm_id(built, erased), "requested_at": "2026-06-29 09:00:00"}],
    )
    # The session's `built` ran the data tests on this data but for four rows.
    run = workspace.dbt("build", *NO_DATA_TESTS, dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    revised_publish = publish_copy(workspace.warehouse, root / "publish", "run-revised")
    # The next export goes where the first one went: its removals are against that one.
    shutil.copytree(exported.parent, root / "exports")
    result = export_audiences(
        revised_publish.serving, root / "exports", "csv", now=datetime(2026, 7, 2, tzinfo=UTC)
    )
    return Revised(workspace, result.folder, revoked_yesterday, revoked_tomorrow, erased)


def _values(rows: pd.DataFrame) -> set[str]:
    return {value for column in rows.columns for value in rows[column].dropna()}


def _file_rows(folder: Path, audience_id: str) -> pd.DataFrame:
    [entry] = [e for e in manifest_of(folder)["files"] if e["audience_id"] == audience_id]
    return read_export(folder / entry["file"])


def _ads_hashes(workspace: Workspace, customer_key: str) -> set[str]:
    rows = workspace.query(
        "select email_sha256, phone_sha256 from activation.audience_candidates "
        f"where is_exported and audience_id = '{ADS_AUDIENCE}' "
        f"and customer_key = '{customer_key}'"
    )
    return {value for row in rows for value in row if value is not None}


def test_consent_revoked_the_day_before_is_not_in_todays_file(
    built: Workspace, exported: Path, revised: Revised
) -> None:
    key = revised.revoked_yesterday
    hashes = _ads_hashes(built, key)
    assert hashes, "the customer was exported before the revocation"
    before = _file_rows(exported, ADS_AUDIENCE)
    assert hashes & _values(before)

    assert not _ads_hashes(revised.workspace, key)
    after = _file_rows(revised.folder, ADS_AUDIENCE)
    assert not hashes & _values(after)
    [(reason, arm)] = revised.workspace.query(
        "select exclusion_reason, arm from activation.audience_candidates "
        f"where audience_id = '{ADS_AUDIENCE}' and customer_key = '{key}'"
    )
    assert (reason, arm) == ("no_consent", "treatment")
    # Only the ads channel was revoked: the email audience still has them if it had them.
    was_emailed = built.query(
        f"select 1 from marts.audience_exports where audience_id = '{EMAIL_AUDIENCE}' "
        f"and customer_key = '{key}'"
    )
    still_emailed = revised.workspace.query(
        f"select 1 from marts.audience_exports where audience_id = '{EMAIL_AUDIENCE}' "
        f"and customer_key = '{key}'"
    )
    assert was_emailed == still_emailed


def test_revoked_consent_and_erasure_are_in_the_next_exports_removals(
    published: Published, exported: Path, revised: Revised
) -> None:
    """The platform lists must drop them: the removals file of the next export holds the
    revoked customer's hashes (ads) and the erased customer's key and email (email)."""
    manifest = manifest_of(revised.folder)
    assert manifest["run_id"] == "run-revised"
    assert manifest["previous_export"]["run_id"] == published.run_id
    entries = {e["audience_id"]: e for e in manifest["files"]}
    contacts = _activation_contacts(published.serving).set_index(["audience_id", "customer_key"])

    def pair(key: str) -> tuple:
        row = contacts.loc[(ADS_AUDIENCE, key)]
        return tuple(None if pd.isna(v) else v for v in (row["email_sha256"], row["phone_sha256"]))

    ads = entries[ADS_AUDIENCE]
    assert not ads["replace_list"]
    removed = read_export(revised.folder / ads["removals"]["file"])
    assert list(removed.columns) == ["Email", "Phone"]
    pairs = {
        tuple(None if pd.isna(v) else v for v in row) for row in removed.itertuples(index=False)
    }
    assert pair(revised.revoked_yesterday) in pairs
    assert pair(revised.revoked_tomorrow) not in pairs
    assert ads["removals"]["row_count"] == len(removed) >= 1
    full = read_export(revised.folder / ads["file"])
    full_pairs = {
        tuple(None if pd.isna(v) else v for v in row) for row in full.itertuples(index=False)
    }
    assert not pairs & full_pairs
    email = entries[EMAIL_AUDIENCE]
    removed_keys = set(read_export(revised.folder / email["removals"]["file"])["customer_key"])
    assert revised.erased in removed_keys
    added = read_export(revised.folder / email["additions"]["file"])
    assert revised.erased not in set(added["customer_key"])


def test_a_revocation_dated_after_as_of_date_is_not_yet_visible(revised: Revised) -> None:
    assert _ads_hashes(revised.workspace, revised.revoked_tomorrow)


def test_an_erasure_request_removes_the_customer_from_every_export(
    built: Workspace, exported: Path, revised: Revised
) -> None:
    key = revised.erased
    assert key in set(_file_rows(exported, EMAIL_AUDIENCE)["customer_key"])
    assert revised.workspace.query(
        f"select 1 from intermediate.int_identity_erased_customer_keys where customer_key = '{key}'"
    )
    for table in ("marts.audience_exports", "marts.experiment_assignments"):
        assert not revised.workspace.query(f"select 1 from {table} where customer_key = '{key}'")
    for entry in manifest_of(revised.folder)["files"]:
        assert key not in (revised.folder / entry["file"]).read_text()


def test_arms_are_stable_across_runs(built: Workspace, revised: Revised) -> None:
    sql = "select experiment_id, customer_key, arm from marts.experiment_assignments"
    before = frame(built, sql).set_index(["experiment_id", "customer_key"])["arm"]
    after = frame(revised.workspace, sql).set_index(["experiment_id", "customer_key"])["arm"]
    common = before.index.intersection(after.index)
    assert len(common) > 0.95 * len(before)
    assert (before.loc[common] == after.loc[common]).all()


# --- the singular dbt tests fail when the mart leaks -------------------------------------------


def test_singular_export_tests_catch_a_leak(
    built: Workspace, generated: Path, tmp_path: Path
) -> None:
    workspace = linked_workspace(tmp_path / "leaky", generated / "raw")
    shutil.copy2(built.warehouse, workspace.warehouse)
    with duckdb.connect(str(workspace.warehouse)) as con:
        [(not_consented,)] = con.execute(
            "select min(customer_key) from activation.audience_candidates "
            f"where audience_id = '{ADS_AUDIENCE}' and exclusion_reason = 'no_consent'"
        ).fetchall()
        [(control,)] = con.execute(
            "select min(customer_key) from activation.audience_candidates "
            f"where audience_id = '{ADS_AUDIENCE}' and exclusion_reason = 'control' "
            "and has_consent"
        ).fetchall()
        assert not_consented and control
        for key in (not_consented, control):
            con.execute(
                "insert into marts.audience_exports select * replace (? as customer_key) "
                "from marts.audience_exports where audience_id = ? limit 1",
                [key, ADS_AUDIENCE],
            )
    run = workspace.dbt(
        "test",
        "--select",
        "assert_export_only_consented",
        "assert_export_excludes_control_and_erased",
        dbt_vars=BUILD_VARS,
    )
    assert run.returncode != 0
    assert "FAIL 1 assert_export_only_consented" in run.output, run.output
    assert "FAIL 1 assert_export_excludes_control_and_erased" in run.output, run.output


# --- only audited data leaves: the export reads the published run, never a failed build ------


def _published_counts(serving: Path) -> dict[str, int]:
    return dict(
        frame(serving, "select audience_id, exported_count from marts.audience_summary").values
    )


def _varchar_values(path: Path) -> set[str]:
    """Every VARCHAR value of every table of a DuckDB file."""
    values: set[str] = set()
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type = 'VARCHAR' and database_name = current_database()"
        ).fetchall()
        for schema, table, column in columns:
            rows = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
            values |= {value for (value,) in rows if value is not None}
    return values


def test_export_after_a_failed_build_writes_the_published_run(
    built: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A refresh whose build emptied the audiences and failed (an empty orders file) leaves
    them empty in the work warehouse; the export does not read it: it writes the published
    run's audiences from the serving file and the activation file, and records that run."""
    good = publish_copy(built.warehouse, tmp_path / "run")
    published = _published_counts(good.serving)

    def empties_then_fails() -> list[str]:
        with duckdb.connect(str(good.work)) as con:
            con.execute("delete from marts.audience_exports")
            con.execute("update marts.audience_summary set exported_count = 0")
            con.execute("update activation.audience_candidates set email = 'x@example.com'")
        return ["test.segments.not_null_stg_commerce__orders_order_id"]

    code, failed = publish.refresh(
        good.work, good.serving, None, empties_then_fails, log=lambda _: None
    )
    assert code == publish.EXIT_QUALITY
    assert publish.unpublished_reason(good.work, good.serving)  # the work file moved on
    assert published[ADS_AUDIENCE] > 50
    result = export_audiences(good.serving, tmp_path / "all", now=GENERATED_AT)
    assert result.run_id == good.run_id != failed.run_id
    assert manifest_of(result.folder)["run_id"] == good.run_id
    written = {file.audience_id: file.row_count + file.no_identifier_count for file in result.files}
    assert written == published
    emails = read_export(result.folder / file_of(result, EMAIL_AUDIENCE))["email"]
    assert len(emails) > 50 and "x@example.com" not in set(emails)
    # The unsalted hashes the files carry are nowhere in the serving file.
    hashes = set()
    for file in result.files:
        if file.destination_kind != "email_platform":
            rows = read_export(result.folder / file.file)
            hashes |= {v for column in rows.columns for v in rows[column].dropna()}
    assert len(hashes) > 300
    assert not hashes & _varchar_values(good.serving)
    # The CLI the same way, even with the work warehouse gone.
    good.work.unlink()
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setenv("SEGMENTS_SERVING", str(good.serving))
    assert main(["export", "--out", str(tmp_path / "cli")]) == 0
    assert f"run_id {good.run_id}" in capsys.readouterr().out


def file_of(result: export_module.ExportResult, audience_id: str) -> str:
    [file] = [f.file for f in result.files if f.audience_id == audience_id]
    return file


def test_export_refuses_an_activation_file_of_another_run(built: Workspace, tmp_path: Path) -> None:
    good = publish_copy(built.warehouse, tmp_path / "run")
    other = publish_copy(built.warehouse, tmp_path / "other", "run-other")
    shutil.copyfile(activation_path(other.serving), activation_path(good.serving))
    with pytest.raises(ValueError, match="holds run run-other, the serving file run run-export"):
        export_audiences(good.serving, tmp_path / "out", now=GENERATED_AT)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.csv"))


def test_export_without_a_published_run_refuses(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="export writes only the audited, published"):
        export_audiences(tmp_path / "serving.duckdb", tmp_path / "out")
