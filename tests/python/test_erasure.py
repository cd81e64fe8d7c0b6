"""Erasure deletes: after a refresh, no table or view of the work warehouse, and nothing in the
published serving file, holds any identifier of an erased person (raw or SHA-256), except the
views over the landing files (schema `raw`), which the project does not own."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import BUILD_VARS, NO_UNIT_TESTS, Workspace, copied_workspace, frame
from segwarehouse import publish
from segwarehouse.erasure import ERASURE_LOG, erase

# Views over the landing files: not the project's to erase (docs/erasure.md says how).
LANDING_SCHEMAS = ("raw",)


@dataclass
class ErasedPerson:
    """Every identifier the generator gave one erased person, and the values to look for."""

    person_id: int
    tokens: set[str]
    hashes: set[str]
    name_and_birth: tuple[str, str, str] | None


def _normal_email(value: object) -> str | None:
    return str(value).strip().lower() if isinstance(value, str) and value.strip() else None


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def erased_people(raw: Path, truth: Path) -> list[ErasedPerson]:
    """The people the landing folder's erasure requests name (by customer_id or email, through
    the truth folder), with every identifier of theirs in the truth and raw files."""
    requests = pd.read_csv(raw / "erasure_requests.csv", dtype=str)
    persons = pd.read_parquet(truth / "persons.parquet")
    crm_truth = pd.read_parquet(truth / "crm_truth.parquet")
    crm = pd.read_csv(raw / "crm_customers.csv", dtype=str).merge(crm_truth, on="customer_id")
    crm["email_norm"] = crm["email"].map(_normal_email)
    persons["email_norm"] = persons["email"].map(_normal_email)
    requested_ids = set(requests["customer_id"].dropna())
    requested_emails = {_normal_email(email) for email in requests["email"].dropna()}
    person_ids = (
        set(crm.loc[crm["customer_id"].isin(requested_ids), "person_id"])
        | set(crm.loc[crm["email_norm"].isin(requested_emails), "person_id"])
        | set(persons.loc[persons["email_norm"].isin(requested_emails), "person_id"])
    )
    cookies = pd.read_parquet(truth / "cookie_truth.parquet")
    people = []
    for person_id in sorted(person_ids):
        person = persons.loc[persons["person_id"] == person_id].iloc[0]
        records = crm.loc[crm["person_id"] == person_id]
        tokens = {
            *records["customer_id"],
            *records["email"].dropna(),
            *records["phone"].dropna(),
            *records["loyalty_id"].dropna(),
            *cookies.loc[cookies["person_id"] == person_id, "anonymous_id"],
            person["email"],
            person["phone"],
        }
        tokens = {text for text in map(_text, tokens) if text}
        emails = {_normal_email(token) for token in tokens if "@" in token}
        phones = {token for token in tokens if token.startswith("+")}
        birth = _text(person["birth_date"])
        people.append(
            ErasedPerson(
                person_id=int(person_id),
                tokens={token.lower() for token in tokens} | {e for e in emails if e},
                hashes={hashlib.sha256(v.encode()).hexdigest() for v in emails | phones if v},
                name_and_birth=(
                    (person["first_name"].lower(), person["last_name"].lower(), birth)
                    if birth
                    else None
                ),
            )
        )
    return people


def relations(con: duckdb.DuckDBPyConnection, skip_schemas: tuple[str, ...]) -> list[str]:
    """Every table and view of the database's own catalog outside skip_schemas."""
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() order by 1, 2"
    ).fetchall()
    return [f'"{schema}"."{name}"' for schema, name in rows if schema not in skip_schemas]


def findings(database: Path, people: list[ErasedPerson], skip_schemas: tuple[str, ...]) -> list:
    """(relation, person_id, what matched) for every row holding an erased person's identifier:
    a whole token of the row's text (case-insensitive), a SHA-256 of a normalised email or
    phone, or first name, last name and birth date together. DuckDB reads each relation once
    for the rows that match anyone; Python tells whose they are."""
    found = []
    with duckdb.connect(str(database), read_only=True) as con:
        for relation in relations(con, skip_schemas):
            for text in _rows_matching_anyone(con, relation, people):
                found += [
                    (relation, person.person_id, what)
                    for person in people
                    if (what := _match(text, person)) is not None
                ]
    return found


def _token_pattern(person: ErasedPerson) -> str:
    """A whole token of the person's (RE2 and Python `re` read it alike)."""
    alternatives = "|".join(re.escape(value) for value in sorted(person.tokens | person.hashes))
    return f"(^|[^a-z0-9_])({alternatives})($|[^a-z0-9_])"


def _rows_matching_anyone(
    con: duckdb.DuckDBPyConnection, relation: str, people: list[ErasedPerson]
) -> list[str]:
    """The lower-cased text of the relation's rows that match any person's token pattern or
    name and birth date."""
    terms, parameters = [], []
    for person in people:
        terms.append("regexp_matches(text, ?)")
        parameters.append(_token_pattern(person))
        if person.name_and_birth:
            each = ["contains(text, ?)"] * len(person.name_and_birth)
            terms.append(f"({' and '.join(each)})")
            parameters += list(person.name_and_birth)
    rows = con.execute(
        f"""
        select text from (select lower(cast(t as varchar)) as text from {relation} as t)
        where {" or ".join(terms) or "false"}
        """,
        parameters,
    ).fetchall()
    return [row[0] for row in rows]


def _match(text: str, person: ErasedPerson) -> str | None:
    """What of the person's the row's text holds: the first whole token, else
    'name+birth_date' when all three are in it, else None."""
    token = re.search(_token_pattern(person), text)
    if token is not None:
        return token.group(2)
    if person.name_and_birth and all(part in text for part in person.name_and_birth):
        return "name+birth_date"
    return None


@pytest.fixture
def work(built, tmp_path: Path) -> Path:
    """A private copy of the built warehouse."""
    copy = tmp_path / "work.duckdb"
    shutil.copyfile(built.warehouse, copy)
    return copy


def test_the_generated_data_erases_someone_who_is_still_in_the_built_warehouse(
    built, generated: Path
) -> None:
    """The scan can fail: before the erasure step, the build keeps erased people's rows."""
    people = erased_people(generated / "raw", generated / "truth")
    assert len(people) >= 3
    before = findings(built.warehouse, people, LANDING_SCHEMAS)
    assert {relation for relation, _, _ in before} >= {
        '"staging"."base_crm__customers"',
        '"intermediate"."int_customer_golden_records"',
    }


def test_refresh_erases_every_identifier_of_every_erased_person(
    work: Path, generated: Path, tmp_path: Path
) -> None:
    people = erased_people(generated / "raw", generated / "truth")
    serving = tmp_path / "serve" / "serving.duckdb"
    code, record = publish.refresh(work, serving, None, None, log=lambda _: None)
    assert code == publish.EXIT_OK, record.failures
    assert findings(work, people, LANDING_SCHEMAS) == []
    assert findings(serving, people, ()) == []
    with duckdb.connect(str(work), read_only=True) as con:
        log = con.execute(f"select table_name, rows_removed, requests from {ERASURE_LOG}").df()
    assert set(log["table_name"]) >= {
        "staging.base_crm__customers",
        "intermediate.int_customer_golden_records",
    }
    assert (log["rows_removed"] > 0).all()
    assert any("erasure: " in note for note in record.notes)


def test_erasure_log_holds_no_identifier_and_a_second_sweep_removes_nothing(
    work: Path, generated: Path
) -> None:
    people = erased_people(generated / "raw", generated / "truth")
    first = erase(work, "first")
    assert first.rows_per_table
    assert first.fits_invalidated == ["intermediate.int_churn_model"]
    assert erase(work, "second").rows_per_table == {}
    with duckdb.connect(str(work), read_only=True) as con:
        reconciled = con.execute(
            "select count(*) from staging.base_crm__customers where row_status = 'erased'"
        ).fetchall()[0][0]
    assert reconciled > 0
    assert [hit for hit in findings(work, people, LANDING_SCHEMAS) if "erasure_log" in hit[0]] == []


def test_web_event_retention_expires_old_events_and_reconciliation_holds(
    built, tmp_path: Path
) -> None:
    """var retention__web_events_months: events dated before as_of_date - N months become
    `expired` tombstones (no value left but landing_file) on the next run, and
    audit.source_reconciliation still adds up."""
    workspace = copied_workspace(built, tmp_path / "retention")
    cutoff = "2025-12-30"  # END_DATE 2026-06-30 minus 6 months
    old_rows = workspace.query(
        f"select count(*) from staging.base_web__events where event_ts < '{cutoff}'"
    )[0][0]
    assert old_rows > 0
    run = workspace.dbt(
        "run",
        "--select",
        "base_web__events",
        "source_reconciliation",
        "segment_membership_history",
        dbt_vars={
            **BUILD_VARS,
            "retention__web_events_months": 6,
            # Runs the history post-hook too (one build has no closed spell to delete).
            "retention__membership_history_days": 30,
        },
    )
    assert run.returncode == 0, run.output
    assert workspace.query(
        "select count(*) filter (where event_ts < '2025-12-30'), "
        "count(*) filter (where row_status = 'expired'), "
        "count(*) filter (where row_status = 'expired' and (event_id is not null "
        "or anonymous_id is not null or raw_record is not null)) "
        "from staging.base_web__events"
    ) == [(0, old_rows, 0)]
    assert workspace.query(
        "select is_reconciled, expired_rows from audit.source_reconciliation "
        "where source_name = 'web_events'"
    ) == [(True, old_rows)]
    assert workspace.query(
        f"select count(*) from staging.stg_web__events where event_ts < '{cutoff}'"
    ) == [(0,)]


def test_next_build_on_a_swept_warehouse_passes_keeps_other_keys_and_erases_again(
    built, generated: Path, tmp_path: Path
) -> None:
    """The run after an erasure: incremental staging over tombstones, its dbt tests and the
    refresh's audit (reconciliation included) pass, every other customer keeps their
    customer_key, and the step removes again what the full-rebuild sources brought back
    (without invalidating the churn fit a second time)."""
    people = erased_people(generated / "raw", generated / "truth")
    # The built warehouse's own landing path: the base tables record their files by path, and
    # another path would make the next run rebuild them in full instead of incrementally.
    workspace = Workspace(built.raw_dir, tmp_path / "warehouse.duckdb", tmp_path)
    (tmp_path / "spill").mkdir()
    shutil.copyfile(built.warehouse, workspace.warehouse)
    assert erase(workspace.warehouse, "first").rows_per_table
    keys_before = {
        row[0] for row in workspace.query("select customer_key from marts.dim_customers")
    }
    run = workspace.dbt("build", *NO_UNIT_TESTS, dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    keys_after = {row[0] for row in workspace.query("select customer_key from marts.dim_customers")}
    assert keys_after == keys_before
    assert workspace.query(
        "select count(*) from audit.source_reconciliation where not is_reconciled"
    ) == [(0,)]
    serving = tmp_path / "serve" / "serving.duckdb"
    code, record = publish.refresh(workspace.warehouse, serving, None, None, log=lambda _: None)
    assert code == publish.EXIT_OK, record.failures
    second = frame(
        workspace.warehouse,
        f"select table_name, fits_invalidated from {ERASURE_LOG} where run_id = '{record.run_id}'",
    )
    assert "staging.base_crm__customers" in set(second["table_name"])
    assert "staging.base_web__events" not in set(second["table_name"])
    assert all(len(fits) == 0 for fits in second["fits_invalidated"])
    assert findings(workspace.warehouse, people, LANDING_SCHEMAS) == []
    assert findings(serving, people, ()) == []
