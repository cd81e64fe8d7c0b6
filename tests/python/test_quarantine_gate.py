"""The quarantine gate's configuration: one limit per source, one hint per reason code.

The gate itself (dbt build failing with one line when a required source is mostly quarantined)
is exercised end to end by the data-shapes matrix (test_data_shapes.py, shape
`every_order_quarantined`) and the refresh side by test_publish.py / test_bad_input_catalogue.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from conftest import PROJECT_DIR

SOURCES = (
    "crm_customers",
    "orders",
    "order_items",
    "products",
    "web_events",
    "campaign_events",
    "consents",
    "erasure_requests",
)


def seed(name: str) -> list[dict[str, str]]:
    with (PROJECT_DIR / "seeds" / "quality" / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# A base model's call of macro timestamp_checks: the column, then optional keyword arguments.
TIMESTAMP_CHECKS = re.compile(r"timestamp_checks\('([^']+)'([^)]*)\)")


def timestamp_reason_codes(column: str, arguments: str) -> set[str]:
    """The reason codes macro timestamp_checks (macros/time/timestamp_checks.sql) gives a column."""
    codes = {"implausibly_old_timestamp", "placeholder_timestamp"}
    if "parse_checks=false" not in arguments:
        codes |= {f"missing_{column}", f"unparseable_{column}"}
    if "future_check=false" not in arguments:
        codes.add("future_timestamp")
    return codes


def reason_codes_in_staging_sql() -> set[str]:
    """Every reason code a base model's first_failing_check list names, plus classify_rows'."""
    codes = {"conflicting_duplicate_key"}
    for path in Path(PROJECT_DIR / "models" / "staging").glob("*/base/*.sql"):
        text = path.read_text(encoding="utf-8")
        # the check lines of first_failing_check: ['<sql condition>', '<reason>'],
        codes |= set(re.findall(r"^\s*\[.+,\s*'([a-z_]+)'\],?$", text, flags=re.MULTILINE))
        for column, arguments in TIMESTAMP_CHECKS.findall(text):
            codes |= timestamp_reason_codes(column, arguments)
    return codes


def reason_codes_in_contract_doc() -> set[str]:
    text = (PROJECT_DIR / "docs" / "raw_data_contract.md").read_text(encoding="utf-8")
    codes: set[str] = set()
    for source, reasons in re.findall(r"^\| (\w+) \| ([a-z_, ]+) \|$", text, flags=re.MULTILINE):
        if source in SOURCES:
            codes |= {code.strip() for code in reasons.split(",")}
    return codes


def test_every_source_has_one_limit_in_range() -> None:
    rows = seed("source_quarantine_limits")
    assert sorted(row["source_name"] for row in rows) == sorted(SOURCES)
    assert all(0 <= float(row["max_quarantine_rate"]) <= 1 for row in rows)


def test_every_reason_code_has_a_hint_and_the_contract_doc_lists_them_all() -> None:
    in_sql = reason_codes_in_staging_sql()
    hints = {row["quarantine_reason"] for row in seed("quarantine_reason_hints")}
    assert all(row["what_to_do"] for row in seed("quarantine_reason_hints"))
    assert in_sql >= {"implausibly_old_timestamp", "placeholder_timestamp", "unknown_currency"}
    assert in_sql - hints == set(), "add a row to seeds/quality/quarantine_reason_hints.csv"
    assert hints - in_sql == set(), "a hint for a reason code no model produces"
    assert reason_codes_in_contract_doc() == in_sql, "docs/raw_data_contract.md is out of date"
