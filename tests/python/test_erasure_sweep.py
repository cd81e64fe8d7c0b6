"""The erasure sweep on a hand-made warehouse (no dbt): what a tombstone keeps, what a JSON
raw record is searched for, and what is left to other people. test_erasure.py runs the same
step on a built warehouse against the generator's truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segwarehouse import erasure
from segwarehouse.erasure import ERASURE_LOG, erase

ERASED_KEY = "cus_00000000000000a1"
KEPT_KEY = "cus_00000000000000b2"

SETUP = f"""
create schema intermediate;
create schema staging;
create schema marts;
create table intermediate.int_identity_erased_customer_keys as
    select '{ERASED_KEY}' as customer_key;
create table intermediate.int_identity_record_keys as
    select * from (values
        ('crm_customer', 'c1', '{ERASED_KEY}', 161::ubigint),
        ('crm_customer', 'c2', '{KEPT_KEY}', 178::ubigint)
    ) as t (record_type, record_id, customer_key, customer_sk);
create table intermediate.int_identity_occurrences as
    select * from (values
        ('crm_customer', 'c1', 'customer_id', 'c1'),
        ('crm_customer', 'c1', 'email', 'ann@example.com'),
        ('crm_customer', 'c1', 'phone', '+15550100'),
        ('crm_customer', 'c2', 'customer_id', 'c2'),
        ('crm_customer', 'c2', 'email', 'bob@example.com'),
        ('crm_customer', 'c2', 'phone', '+15550100')
    ) as t (record_type, record_id, identifier_type, identifier_value);
create table staging.base_crm__customers as
    select * from (values
        ('c1', 'ann@example.com', '+15550100', null, 'staged', 'crm/a.csv',
            timestamp '2026-06-01 00:00:00'),
        ('c2', 'bob@example.com', '+15550100', null, 'staged', 'crm/a.csv',
            timestamp '2026-06-01 00:00:00'),
        (null, null, null, '{{"customer_id": "c9", "email": "ANN@example.com"}}', 'quarantined',
            'crm/b.csv', timestamp '2026-06-02 00:00:00'),
        (null, null, null, '{{"customer_id": "c8", "email": "joann@example.com.au"}}',
            'quarantined', 'crm/b.csv', timestamp '2026-06-02 00:00:00')
    ) as t (customer_id, email, phone, raw_record, row_status, landing_file,
        batch_run_started_at);
create table marts.scores as
    select * from (values (161::ubigint, 0.5), (178::ubigint, 0.7)) as t (customer_sk, score);
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(SETUP)
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_tombstone_keeps_only_its_file_batch_and_status(warehouse: Path) -> None:
    report = erase(warehouse, "run-1")
    assert report.rows_per_table["staging.base_crm__customers"] == 2
    assert _rows(
        warehouse,
        "select customer_id, email, phone, raw_record, row_status, landing_file, "
        "batch_run_started_at from staging.base_crm__customers "
        "order by row_status, landing_file, customer_id",
    ) == [
        (None, None, None, None, "erased", "crm/a.csv", _ts("2026-06-01")),
        (None, None, None, None, "erased", "crm/b.csv", _ts("2026-06-02")),
        (
            None,
            None,
            None,
            '{"customer_id": "c8", "email": "joann@example.com.au"}',
            "quarantined",
            "crm/b.csv",
            _ts("2026-06-02"),
        ),
        ("c2", "bob@example.com", "+15550100", None, "staged", "crm/a.csv", _ts("2026-06-01")),
    ]


def test_other_tables_lose_the_rows_and_the_shared_phone_stays(warehouse: Path) -> None:
    erase(warehouse, "run-1")
    assert _rows(warehouse, "select customer_sk from marts.scores") == [(178,)]
    assert _rows(
        warehouse,
        "select identifier_value from intermediate.int_identity_occurrences "
        "where identifier_type = 'phone'",
    ) == [("+15550100",)]


def test_a_second_sweep_removes_nothing_and_the_log_names_no_one(warehouse: Path) -> None:
    assert erase(warehouse, "run-1").rows_per_table
    assert erase(warehouse, "run-2").rows_per_table == {}
    logged = " ".join(str(row) for row in _rows(warehouse, f"select * from {ERASURE_LOG}"))
    assert "ann@example.com" not in logged
    assert ERASED_KEY not in logged


def _ts(day: str) -> datetime:
    return datetime.fromisoformat(f"{day} 00:00:00")


def test_many_erased_values_split_into_several_patterns(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RE2 refuses one alternation of every erased value at 1M customers (51,205 values,
    'pattern too large'): the values go into several patterns, each under the limit, and a raw
    record is still found by whichever holds its value."""
    monkeypatch.setattr(erasure, "MAX_PATTERN_CHARS", 40)
    with duckdb.connect(str(warehouse)) as con:
        erasure._collect_erased_values(con)
        patterns = erasure._token_patterns(con)
        [(values,)] = con.execute("select count(*) from erased_values").fetchall()
    prefix, suffix = "(^|[^a-z0-9_])(", ")($|[^a-z0-9_])"
    alternations = [pattern.removeprefix(prefix).removesuffix(suffix) for pattern in patterns]
    assert len(patterns) > 3
    # Each pattern is under the limit, or holds one value longer than it (a SHA-256).
    assert all(len(a) <= 40 or "|" not in a for a in alternations)
    assert sum(a.count("|") + 1 for a in alternations) == values
    test_a_tombstone_keeps_only_its_file_batch_and_status(warehouse)
