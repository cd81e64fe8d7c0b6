"""Privacy check of what would be published: no raw email, phone or name outside the allow-list.

Two independent rules over every text column (VARCHAR or JSON) of every table in the published
schemas, so that a renamed column cannot slip through:

- by name: the column name says it holds an email, phone or a person's name
  (NAME_PATTERN; numeric and boolean columns such as `email_open_rate`/`has_phone` are not text
  and are not looked at);
- by value: among a deterministic sample of SAMPLE_ROWS rows, any value that contains an email
  address or a phone number (E.164 `+4915123456789` or grouped `555-123-4567`,
  `(555) 123 4567`). Values are matched inside longer text too, so JSON blobs are covered.

A column listed in ALLOWED_COLUMNS (with the reason it may be published) is skipped; a table
in `skip_tables` (the ones publish.py withholds) is not scanned. Names are checked by column
name only: a name is not recognisable by its shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

# Rows sampled per table (reservoir sample, fixed seed: the same data gives the same sample).
SAMPLE_ROWS = 10_000
SAMPLE_SEED = 7
NAME_PATTERN = (
    r"(^|_)(e_?mail|email_address|phone|phone_number|mobile|mobile_phone|msisdn|telephone|"
    r"first_?name|last_?name|full_?name|surname|given_name|family_name|customer_name|"
    r"person_name|street|street_address|address)(_|$)"
)
EMAIL_VALUE_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE_VALUE_PATTERN = (
    r"(^|[^0-9A-Za-z_])(\+[1-9][0-9]{7,14}|\+?[0-9]{0,3}[ .-]?\(?[0-9]{3}\)?[ .-][0-9]{3}"
    r"[ .-][0-9]{4})($|[^0-9A-Za-z_])"
)
# (relation, column) -> why it may be published although its name matches NAME_PATTERN.
ALLOWED_COLUMNS: dict[tuple[str, str], str] = {
    ("marts.dim_customers", "email_hmac"): (
        "keyed pseudonym (HMAC-SHA-256 under the secret key) of the email, not the email"
    ),
    ("marts.dim_customers", "phone_hmac"): (
        "keyed pseudonym (HMAC-SHA-256 under the secret key) of the E.164 phone, not the phone"
    ),
}
TEXT_TYPES = ("VARCHAR", "JSON")


def privacy_findings(
    warehouse: Path,
    schemas: Iterable[str],
    skip_tables: set[str] | None = None,
    allowed: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """One 'privacy: …' line per text column that looks like raw PII, else []."""
    allowed = ALLOWED_COLUMNS if allowed is None else allowed
    skip_tables = skip_tables or set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = _text_columns(con, list(schemas))
        findings = []
        by_table: dict[str, list[str]] = {}
        for relation, column in columns:
            if relation in skip_tables or (relation, column) in allowed:
                continue
            by_table.setdefault(relation, []).append(column)
        for relation, names in sorted(by_table.items()):
            findings += _name_findings(relation, names)
            findings += _value_findings(con, relation, names)
    return findings


def _text_columns(con: duckdb.DuckDBPyConnection, schemas: list[str]) -> list[tuple[str, str]]:
    rows = con.execute(
        "select c.schema_name || '.' || c.table_name, c.column_name from duckdb_columns() c "
        "join duckdb_tables() t on t.database_name = c.database_name "
        "and t.schema_name = c.schema_name and t.table_name = c.table_name "
        "where c.database_name = current_database() and c.schema_name in (select unnest(?)) "
        "and c.data_type in (select unnest(?)) order by 1, c.column_index",
        [schemas, list(TEXT_TYPES)],
    ).fetchall()
    return [(relation, column) for relation, column in rows]


def _name_findings(relation: str, columns: list[str]) -> list[str]:
    pattern = re.compile(NAME_PATTERN, re.IGNORECASE)
    return [
        f"privacy: {relation}.{column}: the name says raw PII (email, phone or a person's name); "
        "publish a hash or drop it, or add it to ALLOWED_COLUMNS in "
        "segwarehouse/quality/privacy.py with the reason"
        for column in columns
        if pattern.search(column)
    ]


def _value_findings(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[str]:
    schema, table = relation.split(".", 1)
    measures = ", ".join(
        f"count_if(regexp_matches(v{i}, '{EMAIL_VALUE_PATTERN}')), "
        f"count_if(regexp_matches(v{i}, '{PHONE_VALUE_PATTERN}'))"
        for i in range(len(columns))
    )
    projected = ", ".join(
        f'cast("{column}" as varchar) as v{i}' for i, column in enumerate(columns)
    )
    sampled = con.execute(
        f'select count(*), {measures} from (select {projected} from "{schema}"."{table}" '
        f"using sample reservoir({SAMPLE_ROWS} rows) repeatable ({SAMPLE_SEED}))"
    ).fetchone()
    total, counts = sampled[0], sampled[1:]
    findings = []
    for i, column in enumerate(columns):
        for kind, found in (
            ("email addresses", counts[2 * i]),
            ("phone numbers", counts[2 * i + 1]),
        ):
            if found:
                findings.append(
                    f"privacy: {relation}.{column}: {found:,} of {total:,} sampled values hold "
                    f"{kind}; publish a hash or drop the column, or add it to ALLOWED_COLUMNS in "
                    "segwarehouse/quality/privacy.py with the reason"
                )
    return findings
