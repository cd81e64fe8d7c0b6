"""Tests of the synthetic data generator (segwarehouse.generator).

One 20k-customer CSV data set and its Parquet twin are generated once per module; the
determinism and argument tests use small throw-away runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from segwarehouse import cli
from segwarehouse.generator import GenerationSummary, generate, sqlkit
from segwarehouse.generator.params import Params, Salt
from segwarehouse.settings import SYNTHETIC_MANIFEST

END = date(2025, 6, 30)
END_EXCL = "TIMESTAMPTZ '2025-07-01 00:00:00+00'"
CUSTOMERS = 20_000
SEED = 11

COLUMNS = {
    "crm_customers": [
        "customer_id", "email", "phone", "first_name", "last_name", "birth_date", "gender",
        "street_address", "city", "region", "postal_code", "country", "loyalty_id",
        "source_system", "created_at", "updated_at",
    ],
    "orders": [
        "order_id", "customer_id", "email", "loyalty_id", "anonymous_id", "order_ts", "channel",
        "status", "currency", "order_total", "discount_amount",
    ],
    "order_items": ["order_id", "line_number", "product_id", "quantity", "unit_price"],
    "products": ["product_id", "product_name", "category", "brand", "list_price"],
    "web_events": [
        "event_id", "anonymous_id", "customer_id", "email", "session_id", "event_type",
        "event_ts", "page_url", "product_id", "device_type", "traffic_source",
    ],
    "consents": ["customer_id", "email", "channel", "status", "recorded_at"],
    "campaign_events": [
        "campaign_id", "customer_id", "email", "channel", "event_type", "variant", "event_ts",
        "revenue",
    ],
    "erasure_requests": ["customer_id", "email", "requested_at"],
}  # fmt: skip
TRUTH = ["persons", "crm_truth", "order_truth", "cookie_truth"]
WEB_TYPES = (
    "page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_start",
    "purchase", "login", "signup", "search",
)  # fmt: skip
CAMPAIGN_TYPES = ("sent", "delivered", "opened", "clicked", "converted", "unsubscribed")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")


def sql_in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def source_sql(path: Path) -> str:
    """Table function reading one generated file with every column as text."""
    if path.suffix == ".csv":
        return (
            f"read_csv('{path}', all_varchar = true, header = true, delim = ',', "
            "quote = '\"', escape = '\"')"
        )
    return f"read_parquet('{path}')"


def load(out_dir: Path, truth_dir: Path, fmt: str) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with every output file and truth file as a table."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in COLUMNS:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {source_sql(out_dir / f'{name}.{fmt}')}")
    for name in TRUTH:
        path = truth_dir / f"{name}.parquet"
        con.execute(f"CREATE TABLE t_{name} AS SELECT * FROM {source_sql(path)}")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.suffix in (".csv", ".parquet")
    }


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, list[str]]:
    root = tmp_path_factory.mktemp("csv_run")
    lines: list[str] = []
    summary = generate(CUSTOMERS, SEED, root / "out", root / "truth", END, progress=lines.append)
    return summary, lines


@pytest.fixture(scope="module")
def db(csv_run: tuple[GenerationSummary, list[str]]) -> duckdb.DuckDBPyConnection:
    summary, _ = csv_run
    return load(summary.out_dir, summary.truth_dir, "csv")


@pytest.fixture(scope="module")
def manifest(csv_run: tuple[GenerationSummary, list[str]]) -> dict[str, dict[str, int]]:
    summary, _ = csv_run
    return json.loads((summary.truth_dir / "dirt_manifest.json").read_text())


# --- random streams ----------------------------------------------------------------------


def test_random_streams_are_uniform_and_independent() -> None:
    con = duckdb.connect()
    sqlkit.install(con, Params(customers=10, seed=3, end_date=END))
    a = sqlkit.unif("i", Salt.ORDER_MODE)
    b = sqlkit.unif("i", Salt.ORDER_MODE, 1)
    c = sqlkit.unif("i", Salt.ORDER_CHANNEL)
    z = sqlkit.normal("i", Salt.BASKET)
    stats = con.execute(
        f"SELECT avg({a}), corr({a}, {b}), corr({a}, {c}), corr({b}, {c}), "
        f"corr({a}, {a.replace('(i,', '(i + 1,')}), avg({z}), stddev({z}), min({a}), max({a}) "
        "FROM range(200000) t(i)"
    ).fetchall()[0]
    mean, *corrs, z_mean, z_sd, low, high = stats
    assert abs(mean - 0.5) < 0.005
    assert all(abs(r) < 0.01 for r in corrs)
    assert abs(z_mean) < 0.01
    assert abs(z_sd - 1) < 0.01
    assert low > 0
    assert high < 1
    # Joint uniformity of two salts on a 10 x 10 grid (chi-square, 99 degrees of freedom).
    chi2 = one(
        con,
        f"SELECT sum((n - 2000.0) ^ 2 / 2000.0) FROM (SELECT floor({a} * 10), floor({c} * 10), "
        "count(*) AS n FROM range(200000) t(i) GROUP BY ALL)",
    )
    assert chi2 < 160


# --- determinism, formats, columns --------------------------------------------------------


def test_same_arguments_give_identical_bytes_regardless_of_threads(tmp_path: Path) -> None:
    # 6,000 people: ~300k web events, several Parquet row groups, whose boundaries would
    # depend on the thread count if the unsorted web events write ran on more than one thread
    for fmt in ("csv", "parquet"):
        a = generate(6000, 5, tmp_path / fmt / "a", tmp_path / fmt / "ta", END, fmt, threads=1)
        b = generate(6000, 5, tmp_path / fmt / "b", tmp_path / fmt / "tb", END, fmt, threads=3)
        if fmt == "parquet":
            # written unsorted (sessions are stored in output order): still in event_id order
            # (session id, event number; an exact copy right after its original)
            [(back_steps,)] = duckdb.execute(
                "SELECT count(*) FILTER (event_id < previous) FROM (SELECT event_id, "
                "lag(event_id) OVER (ORDER BY file_row_number) AS previous "
                "FROM read_parquet(?, file_row_number = true))",
                [str(b.out_dir / "web_events.parquet")],
            ).fetchall()
            assert back_steps == 0
        assert digests(a.out_dir) == digests(b.out_dir)
        assert len(digests(a.out_dir)) == 8
        assert digests(a.truth_dir) == digests(b.truth_dir)
        manifest_a = (a.truth_dir / "dirt_manifest.json").read_text()
        assert manifest_a == (b.truth_dir / "dirt_manifest.json").read_text()


def test_the_cli_passes_threads_and_memory_limit_and_rejects_a_bad_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["generate", "--customers", "500", "--seed", "5", "--end-date", END.isoformat()]
    out = ["--out", str(tmp_path / "cli"), "--truth-dir", str(tmp_path / "cli_truth")]
    code = cli.main([*common, *out, "--threads", "1", "--memory-limit", "300MB"])
    assert code == 0
    reference = generate(500, 5, tmp_path / "api", tmp_path / "api_truth", END)
    assert digests(tmp_path / "cli") == digests(reference.out_dir)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*common, "--out", str(tmp_path / "bad"), "--memory-limit", "5XB"])
    assert exit_info.value.code == 2
    assert "'5XB' is not a memory size" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = generate(2000, 5, tmp_path / "a", tmp_path / "ta", END)
    b = generate(2000, 6, tmp_path / "b", tmp_path / "tb", END)
    da, db_ = digests(a.out_dir), digests(b.out_dir)
    for name in ("crm_customers.csv", "orders.csv", "web_events.csv", "order_items.csv"):
        assert da[name] != db_[name]


def test_csv_and_parquet_hold_the_same_data(
    csv_run: tuple[GenerationSummary, list[str]], tmp_path: Path
) -> None:
    summary, _ = csv_run
    pq = generate(CUSTOMERS, SEED, tmp_path / "out", tmp_path / "truth", END, fmt="parquet")
    con = load(pq.out_dir, pq.truth_dir, "parquet")
    for name, columns in COLUMNS.items():
        schema = con.execute(f"DESCRIBE {name}").fetchall()
        assert [row[0] for row in schema] == columns, name
        assert {row[1] for row in schema} == {"VARCHAR"}, name
        con.execute(f"CREATE TABLE csv_{name} AS SELECT * FROM {source_sql(summary.files[name])}")
        assert one(con, f"SELECT count(*) FROM {name}") == summary.rows[name] == pq.rows[name]
        for left, right in ((name, f"csv_{name}"), (f"csv_{name}", name)):
            differing = one(
                con,
                f"SELECT count(*) FROM (SELECT rowid, * FROM {left} "
                f"EXCEPT ALL SELECT rowid, * FROM {right})",
            )
            assert differing == 0, name
    manifest_csv = (summary.truth_dir / "dirt_manifest.json").read_text()
    assert manifest_csv == (pq.truth_dir / "dirt_manifest.json").read_text()


def test_csv_headers_match_the_contract(csv_run: tuple[GenerationSummary, list[str]]) -> None:
    summary, _ = csv_run
    assert set(summary.files) == set(COLUMNS)
    for name, columns in COLUMNS.items():
        with summary.files[name].open(encoding="utf-8") as handle:
            assert handle.readline().rstrip("\n") == ",".join(columns), name


# --- value sets and dirt ------------------------------------------------------------------


def test_value_sets_of_clean_rows(db: duckdb.DuckDBPyConnection) -> None:
    money = "'\\d+\\.\\d{2}'"
    violations = [
        ("orders", "status NOT IN ('completed', 'cancelled', 'returned')"),
        ("orders", "channel NOT IN ('web', 'mobile_app', 'store')"),
        ("orders", f"NOT regexp_full_match(discount_amount, {money})"),
        ("order_items", f"NOT regexp_full_match(unit_price, {money})"),
        ("products", f"NOT regexp_full_match(list_price, {money})"),
        ("web_events", "device_type NOT IN ('desktop', 'mobile', 'tablet')"),
        ("web_events", "traffic_source NOT IN ('organic', 'paid_search', 'email', 'social', "
                       "'direct')"),
        ("consents", "status NOT IN ('granted', 'revoked')"),
        ("campaign_events", "variant NOT IN ('treatment', 'control')"),
        ("campaign_events", "(revenue IS NOT NULL) <> (event_type = 'converted')"),
        ("campaign_events", "variant = 'control' AND event_type IN ('delivered', 'opened', "
                            "'clicked', 'unsubscribed')"),
        ("crm_customers", "gender NOT IN ('F', 'M', 'X')"),
        ("crm_customers", "source_system NOT IN ('webshop', 'pos', 'loyalty_app')"),
        ("crm_customers", "country NOT IN ('US', 'USA', 'United States', 'united states', 'GB', "
                          "'UK', 'United Kingdom', 'DE', 'Germany', 'Deutschland', 'FR', "
                          "'France', 'NL', 'Netherlands', 'CA', 'Canada', 'AU', 'Australia')"),
        ("crm_customers", "NOT regexp_full_match(birth_date, '\\d{4}-\\d{2}-\\d{2}')"),
    ]  # fmt: skip
    for table, condition in violations:
        assert one(db, f"SELECT count(*) FROM {table} WHERE {condition}") == 0, condition
    # Clean timestamps use exactly the two documented shapes.
    plain = "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}"
    offset = "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[+-]\\d{2}:\\d{2}"
    shape = f"regexp_full_match(event_ts, '{plain}|{offset}')"
    assert one(db, f"SELECT count(*) FROM web_events WHERE NOT {shape}") == 0
    offset_share = one(db, "SELECT avg((event_ts LIKE '%T%')::INT) FROM web_events")
    assert 0.02 < offset_share < 0.04


def test_manifest_counts_equal_what_is_in_the_orders_file(
    db: duckdb.DuckDBPyConnection, manifest: dict[str, dict[str, int]]
) -> None:
    flags = {
        "null_order_id": "order_id IS NULL",
        "no_customer_identifier": "customer_id IS NULL AND email IS NULL AND loyalty_id IS NULL "
        "AND anonymous_id IS NULL",
        "negative_order_total": "try_cast(order_total AS DECIMAL(18, 2)) < 0",
        "absurd_order_total": "try_cast(order_total AS DECIMAL(18, 2)) >= 1000000",
        "unparseable_order_total": "try_cast(order_total AS DECIMAL(18, 2)) IS NULL",
        "future_order_ts": f"try_cast(order_ts AS TIMESTAMPTZ) >= {END_EXCL}",
        "implausibly_old_order_ts": "try_cast(order_ts AS TIMESTAMPTZ) < TIMESTAMPTZ '2000-01-01'",
        "unparseable_order_ts": "try_cast(order_ts AS TIMESTAMPTZ) IS NULL",
        "unknown_currency": f"currency NOT IN {sql_in(CURRENCIES)}",
    }
    counts = {
        name: one(db, f"SELECT count(*) FROM orders WHERE {cond}") for name, cond in flags.items()
    }
    per_row = " + ".join(f"coalesce(({cond})::INT, 0)" for cond in flags.values())
    assert one(db, f"SELECT max({per_row}) FROM orders") == 1  # one defect per dirty row
    counts["exact_duplicate_row"] = one(
        db, "SELECT sum(n - 1) FROM (SELECT *, count(*) AS n FROM orders GROUP BY ALL)"
    )
    counts["conflicting_duplicate_key"] = one(
        db,
        "SELECT sum(k - 1) FROM (SELECT order_id, count(*) AS k FROM (SELECT DISTINCT * FROM "
        "orders) WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1)",
    )
    entry = manifest["orders"]
    for name, found in counts.items():
        assert found == entry[name], name
        assert found > 0, name
    total = one(db, "SELECT count(*) FROM orders")
    assert entry["total_rows"] == total
    assert entry["defect_free_rows"] == total - sum(counts.values())
    assert 0.005 < entry["exact_duplicate_row"] / total < 0.015


def test_manifest_counts_equal_what_is_in_the_other_files(
    db: duckdb.DuckDBPyConnection, manifest: dict[str, dict[str, int]]
) -> None:
    email_ok = "regexp_full_match(lower(trim(email)), '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')"
    expected = {
        ("crm_customers", "null_customer_id"): "customer_id IS NULL",
        ("crm_customers", "junk_email"): "email = 'test@example.com'",
        ("crm_customers", "junk_phone"): "phone = '0000000000'",
        ("crm_customers", "malformed_email"): f"email IS NOT NULL AND NOT {email_ok}",
        ("order_items", "orphan_order_line"): "order_id NOT IN "
        "(SELECT order_id FROM orders WHERE order_id IS NOT NULL)",
        ("order_items", "non_positive_quantity"): "quantity::INT <= 0",
        ("web_events", "future_event_ts"): f"event_ts::TIMESTAMPTZ >= {END_EXCL}",
        ("web_events", "unknown_event_type"): f"event_type NOT IN {sql_in(WEB_TYPES)}",
        ("consents", "unknown_channel"): "channel NOT IN ('email', 'sms', 'ads', 'push')",
        ("campaign_events", "unknown_event_type"): f"event_type NOT IN {sql_in(CAMPAIGN_TYPES)}",
    }
    for (source, defect), cond in expected.items():
        found = one(db, f"SELECT count(*) FROM {source} WHERE {cond}")
        assert found == manifest[source][defect] > 0, (source, defect)
    web_dups = one(
        db, "SELECT sum(n - 1) FROM (SELECT *, count(*) AS n FROM web_events GROUP BY ALL)"
    )
    assert web_dups == manifest["web_events"]["exact_duplicate_row"] > 0
    for source, entry in manifest.items():
        total = one(db, f"SELECT count(*) FROM {source}")
        defects = sum(v for k, v in entry.items() if k not in ("defect_free_rows", "total_rows"))
        assert entry["total_rows"] == total, source
        assert entry["defect_free_rows"] + defects == total, source
    # An orphan line is otherwise clean.
    assert one(
        db,
        "SELECT count(*) FROM order_items WHERE quantity::INT <= 0 AND order_id NOT IN "
        "(SELECT order_id FROM orders WHERE order_id IS NOT NULL)",
    ) == 0  # fmt: skip


# --- ground truth -------------------------------------------------------------------------


def test_truth_covers_every_identifier(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, "SELECT count(*) FROM t_persons") == CUSTOMERS
    assert one(db, "SELECT count(*) - count(DISTINCT customer_id) FROM t_crm_truth") == 0
    assert one(db, "SELECT count(*) - count(DISTINCT order_id) FROM t_order_truth") == 0
    for source in ("crm_customers", "orders", "web_events", "consents", "campaign_events",
                   "erasure_requests"):  # fmt: skip
        missing = one(
            db,
            f"SELECT count(*) FROM {source} WHERE customer_id IS NOT NULL AND customer_id NOT IN "
            "(SELECT customer_id FROM t_crm_truth)",
        )
        assert missing == 0, source
    assert one(
        db,
        "SELECT count(*) FROM (SELECT DISTINCT order_id FROM orders WHERE order_id IS NOT NULL) "
        "FULL JOIN t_order_truth USING (order_id) WHERE order_id IS NULL "
        "OR order_id NOT IN (SELECT order_id FROM orders WHERE order_id IS NOT NULL)",
    ) == 0  # fmt: skip
    for source in ("web_events", "orders"):
        missing = one(
            db,
            f"SELECT count(*) FROM {source} WHERE anonymous_id IS NOT NULL AND anonymous_id NOT IN "
            "(SELECT anonymous_id FROM t_cookie_truth)",
        )
        assert missing == 0, source
    kiosks = db.execute(
        "SELECT anonymous_id, person_id FROM t_cookie_truth WHERE anonymous_id LIKE 'kiosk-%'"
    ).fetchall()
    assert len(kiosks) == 5
    assert all(person is None for _, person in kiosks)


def test_truth_dir_inside_out_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="truth_dir"):
        generate(100, 1, tmp_path / "out", tmp_path / "out" / "truth", END)
    with pytest.raises(ValueError, match="truth_dir"):
        generate(100, 1, tmp_path / "out", tmp_path / "out", END)
    with pytest.raises(ValueError, match="customers"):
        generate(0, 1, tmp_path / "out", tmp_path / "truth", END)
    assert not (tmp_path / "out").exists()


def test_progress_lines_and_summary(csv_run: tuple[GenerationSummary, list[str]]) -> None:
    summary, lines = csv_run
    assert len(lines) == 10
    assert all(re.fullmatch(r"\[\d+/10\] \w+: [\d,]+ rows in \d+\.\ds", line) for line in lines)
    assert summary.total_seconds > 0
    saved = json.loads((summary.truth_dir / "generation_summary.json").read_text())
    assert saved["rows"] == summary.rows
    manifest = json.loads((summary.truth_dir / "dirt_manifest.json").read_text())
    assert {k: v["total_rows"] for k, v in manifest.items()} == summary.rows
    assert sorted(p.name for p in summary.out_dir.iterdir()) == sorted(
        [*(f"{name}.csv" for name in COLUMNS), SYNTHETIC_MANIFEST]
    )
    marked = json.loads((summary.out_dir / SYNTHETIC_MANIFEST).read_text())
    assert marked["synthetic"] is True and sorted(marked["files"]) == sorted(
        f"{name}.csv" for name in COLUMNS
    )


# --- realism ------------------------------------------------------------------------------


def test_identity_fragmentation_rates(db: duckdb.DuckDBPyConnection) -> None:
    ids = "SELECT person_id, count(*) AS n FROM t_crm_truth GROUP BY person_id"
    two_plus = one(db, f"SELECT count(*) FILTER (n >= 2) / {CUSTOMERS} FROM ({ids})")
    three_plus = one(db, f"SELECT count(*) FILTER (n >= 3) / {CUSTOMERS} FROM ({ids})")
    assert 0.27 < two_plus < 0.36
    assert 0.04 < three_plus < 0.08
    versions = one(
        db,
        "SELECT avg((n > 1)::INT) FROM (SELECT customer_id, count(*) AS n FROM crm_customers "
        "WHERE customer_id IS NOT NULL GROUP BY 1)",
    )
    assert 0.08 < versions < 0.12
    # Persons with a record sharing no e-mail, phone or loyalty id with their other records.
    isolated = one(
        db,
        """
        WITH c AS (
          SELECT t.person_id, customer_id, lower(trim(email)) AS e,
            right(regexp_replace(phone, '[^0-9]', '', 'g'), 10) AS ph, loyalty_id AS l
          FROM crm_customers JOIN t_crm_truth t USING (customer_id)
          WHERE email IS DISTINCT FROM 'test@example.com' AND phone IS DISTINCT FROM '0000000000'
        ),
        linked AS (
          SELECT DISTINCT a.customer_id FROM c a JOIN c b ON a.person_id = b.person_id
            AND a.customer_id <> b.customer_id AND (a.e = b.e OR a.ph = b.ph OR a.l = b.l)
        )
        SELECT count(DISTINCT person_id) FROM c
        WHERE customer_id NOT IN (SELECT customer_id FROM linked)
          AND person_id IN (SELECT person_id FROM t_crm_truth GROUP BY 1 HAVING count(*) > 1)
        """,
    )
    assert 0.012 < isolated / CUSTOMERS < 0.035
    modes = dict(
        db.execute(
            """
            SELECT CASE WHEN customer_id IS NOT NULL THEN 'customer_id'
                        WHEN email IS NOT NULL THEN 'email' WHEN loyalty_id IS NOT NULL
                        THEN 'loyalty_id' ELSE 'anonymous_id' END AS mode,
                   count(*) / sum(count(*)) OVER ()
            FROM orders WHERE NOT (customer_id IS NULL AND email IS NULL AND loyalty_id IS NULL
                                   AND anonymous_id IS NULL)
            GROUP BY 1
            """
        ).fetchall()
    )
    assert 0.66 < modes["customer_id"] < 0.74
    assert 0.12 < modes["email"] < 0.18
    assert 0.06 < modes["loyalty_id"] < 0.10
    assert 0.05 < modes["anonymous_id"] < 0.09
    assert one(db, "SELECT count(*) FROM crm_customers WHERE email = 'test@example.com'") > 0
    assert one(db, "SELECT count(*) FROM orders WHERE email = 'test@example.com'") > 0
    assert one(db, "SELECT count(*) FROM orders WHERE anonymous_id LIKE 'kiosk-%'") > 0
    kiosk_people = one(
        db,
        "SELECT count(DISTINCT customer_id) FROM web_events WHERE anonymous_id LIKE 'kiosk-%'",
    )
    assert kiosk_people > 20
    us = one(db, "SELECT avg((country = 'US')::INT) FROM t_persons")
    assert 0.57 < us < 0.63


def test_behaviour_rates(db: duckdb.DuckDBPyConnection) -> None:
    assert 0.18 < one(db, "SELECT avg(is_prospect::INT) FROM t_persons") < 0.22
    assert 4.0 < one(db, f"SELECT count(*) / {CUSTOMERS} FROM t_order_truth") < 6.0
    lines = one(
        db, "SELECT count(*) / (SELECT count(DISTINCT order_id) FROM orders) FROM order_items"
    )
    assert 2.2 < lines < 2.9
    events = one(db, f"SELECT count(*) / {CUSTOMERS} FROM web_events")
    assert 40 < events < 60
    abandoned = one(
        db,
        "SELECT avg((NOT bought)::INT) FROM (SELECT session_id, bool_or(event_type = 'purchase') "
        "AS bought FROM web_events GROUP BY 1 HAVING bool_or(event_type = 'add_to_cart'))",
    )
    assert 0.65 < abandoned < 0.75
    completed = one(db, "SELECT avg((status = 'completed')::INT) FROM orders")
    assert 0.86 < completed < 0.90
    discounted = one(db, "SELECT avg((discount_amount <> '0.00')::INT) FROM orders")
    assert 0.27 < discounted < 0.33
    one_time = one(
        db,
        "SELECT avg((n = 1)::INT) FROM (SELECT person_id, count(*) AS n FROM t_order_truth "
        "WHERE person_id IS NOT NULL GROUP BY 1)",
    )
    assert 0.2 < one_time < 0.5
    # Identifying events always carry an identifier; landing page views never do.
    assert one(
        db,
        "SELECT count(*) FROM web_events WHERE event_type IN ('login', 'signup', "
        "'checkout_start', 'purchase') AND customer_id IS NULL AND email IS NULL",
    ) == 0  # fmt: skip
    assert one(
        db,
        "SELECT count(*) FROM web_events WHERE event_id LIKE '%-00' "
        "AND (customer_id IS NOT NULL OR email IS NOT NULL)",
    ) == 0  # fmt: skip
    revoked = one(
        db,
        "SELECT count(*) FILTER (status = 'revoked') / count(*) FILTER (status = 'granted') "
        "FROM consents",
    )
    assert 0.12 < revoked < 0.18


def test_heavy_tail_of_revenue(db: duckdb.DuckDBPyConnection) -> None:
    share = one(
        db,
        """
        WITH clean AS (
          SELECT DISTINCT order_id, status, try_cast(order_total AS DECIMAL(18, 2)) AS total
          FROM orders
        ),
        revenue AS (
          SELECT t.person_id, sum(total) AS r FROM clean JOIN t_order_truth t USING (order_id)
          WHERE status = 'completed' AND total BETWEEN 0 AND 999999.99 AND t.person_id IS NOT NULL
          GROUP BY 1
        ),
        ranked AS (SELECT r, ntile(10) OVER (ORDER BY r DESC) AS decile FROM revenue)
        SELECT sum(r) FILTER (decile = 1) / sum(r) FROM ranked
        """,
    )
    assert share > 0.35


def test_seasonality_peaks_in_november_and_december(db: duckdb.DuckDBPyConnection) -> None:
    by_month = dict(
        db.execute(
            "SELECT month(ts), count(*) FROM (SELECT try_cast(order_ts AS TIMESTAMPTZ) AS ts "
            "FROM orders) WHERE year(ts) = 2024 GROUP BY 1"
        ).fetchall()
    )
    assert by_month[11] > 1.3 * by_month[3]
    assert by_month[12] > 1.3 * by_month[3]


def test_campaign_lift_is_about_two_points(db: duckdb.DuckDBPyConnection) -> None:
    rates = dict(
        db.execute(
            "SELECT variant, count(*) FILTER (event_type = 'converted') / "
            "count(*) FILTER (event_type = 'sent') FROM campaign_events GROUP BY 1"
        ).fetchall()
    )
    assert 0.005 < rates["treatment"] - rates["control"] < 0.035
    funnel = dict(
        db.execute(
            "SELECT event_type, count(*) FROM campaign_events WHERE variant = 'treatment' "
            "GROUP BY 1"
        ).fetchall()
    )
    assert funnel["sent"] > funnel["delivered"] > funnel["opened"] > funnel["clicked"]
    assert funnel["clicked"] > funnel["converted"] > 0
    assert funnel["unsubscribed"] > 0


def test_timestamps_do_not_pass_the_end_date(
    db: duckdb.DuckDBPyConnection, manifest: dict[str, dict[str, int]]
) -> None:
    columns = {
        ("orders", "order_ts"): manifest["orders"]["future_order_ts"],
        ("web_events", "event_ts"): manifest["web_events"]["future_event_ts"],
        ("crm_customers", "created_at"): 0,
        ("crm_customers", "updated_at"): 0,
        ("consents", "recorded_at"): 0,
        ("campaign_events", "event_ts"): 0,
        ("erasure_requests", "requested_at"): 0,
    }
    for (source, column), allowed in columns.items():
        late = one(
            db,
            f"SELECT count(*) FROM {source} WHERE try_cast({column} AS TIMESTAMPTZ) >= {END_EXCL}",
        )
        assert late == allowed, (source, column)
    assert one(db, "SELECT count(*) FROM crm_customers WHERE created_at > updated_at") == 0
    assert one(db, "SELECT max(birth_date) FROM crm_customers") < "2008-01-01"


def test_erased_persons_exist(db: duckdb.DuckDBPyConnection) -> None:
    requests = one(db, "SELECT count(*) FROM erasure_requests")
    assert requests >= 10
    known = one(
        db,
        "SELECT count(*) FROM erasure_requests WHERE customer_id IN "
        "(SELECT customer_id FROM t_crm_truth) OR lower(trim(email)) IN "
        "(SELECT email FROM t_persons)",
    )
    assert known == requests
