"""Incremental staging (docs/incremental.md): three daily deliveries loaded one run at a time
give exactly the tables a full rebuild of the same folder gives, and the daily runs really
process only part of the rows.

The generated single-file data set is cut into three daily deliveries of the large sources
(web events, orders, order items, campaign events), with rows arriving late (dated days before
their delivery), early (dated after the run's as_of_date, some beyond that run's
future-timestamp cutoff), exact copies re-sent on a later day, order lines arriving before or
after their order, and re-sends of a key with other content (one keeping its timestamp, one
moving it).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from conftest import NO_DATA_TESTS, NO_UNIT_TESTS, Workspace, make_workspace
from segwarehouse.compare import compare_table
from segwarehouse.generator import generate
from segwarehouse.sqltext import sql_literal

SEED = 11
CUSTOMERS = 400
DAYS = (date(2026, 6, 28), date(2026, 6, 29), date(2026, 6, 30))
# Large source -> (timestamp column deciding the delivery day, format of its deliveries).
LARGE_SOURCES = {
    "web_events": ("event_ts", "csv"),
    "orders": ("order_ts", "csv"),
    "campaign_events": ("event_ts", "parquet"),
}
SMALL_SOURCES = ("crm_customers", "products", "consents", "erasure_requests")
SELECTOR = "+customer_features +customer_rfm +segment_membership +dim_customers"
BASE_TABLES = (
    "staging.base_web__events",
    "staging.base_commerce__orders",
    "staging.base_commerce__order_items",
    "staging.base_marketing__campaign_events",
)
COMPARED = (
    *BASE_TABLES,
    "staging.stg_web__events",
    "staging.stg_commerce__orders",
    "staging.stg_commerce__order_items",
    "staging.stg_marketing__campaign_events",
    "marts.customer_features",
    "marts.customer_rfm",
    "marts.segment_membership",
    "marts.dim_customers",
)
# Fits kept for a retrain period (var ml__retrain_every_days), not derived data.
STORED_FITS = (
    "intermediate.int_churn_model",
    "intermediate.int_identity_match_model",
    "marts.cluster_diagnostics",
)
# Bookkeeping column of the incremental base models: when the row was last classified.
RUN_STAMP = "batch_run_started_at"


def day_vars(day: date) -> dict[str, str]:
    """as_of_date of a daily run and its load time (midnight after the day)."""
    return {
        "as_of_date": day.isoformat(),
        "segments__loaded_at": f"{(day + timedelta(days=1)).isoformat()} 00:00:00",
    }


def _delivery_day(ts_column: str) -> str:
    """Delivery day (1, 2, 3) of a raw row from its timestamp and a hash of its position:
    mostly the day it is dated (history on day 1), some late by one or two days, some early
    (dated on day 2 or 3, delivered on day 1), re-sent copies on day 3."""
    d1, d2, d3 = (f"date '{day.isoformat()}'" for day in DAYS)
    day_of = f"cast(try_cast({ts_column} as timestamp) as date)"
    return f"""
        case
            when copy_number > 1 then 3
            when {day_of} is null then 1 + hash(rn) % 3
            when {day_of} <= {d1} then
                case when hash(rn) % 40 = 0 then 2 + hash(rn + 1) % 2 else 1 end
            when {day_of} = {d2} then case when hash(rn) % 10 = 0 then 1 else 2 end
            when {day_of} = {d3} then case when hash(rn) % 10 = 0 then 1 else 3 end
            else 1
        end
    """


def split_deliveries(single: Path, days_dir: Path) -> dict[str, int]:
    """Write days_dir/<n>/<source>/<day>.<fmt> for the large sources; returns defect counts."""
    con = duckdb.connect()
    for source, (ts_column, _) in LARGE_SOURCES.items():
        con.execute(
            f"create table {source} as select * from read_csv("
            f"{sql_literal(single / (source + '.csv'))}, all_varchar = true, header = true)"
        )
        columns = [row[0] for row in con.execute(f"describe {source}").fetchall()]
        column_list = ", ".join(f'"{column}"' for column in columns)
        con.execute(
            f"create table {source}_days as with numbered as (select *, row_number() over () as rn"
            f" from {source}), copies as (select *, row_number() over (partition by {column_list}"
            f" order by rn) as copy_number from numbered) select *,"
            f" {_delivery_day(ts_column)} as delivery from copies"
        )
    # Re-sends across days: exact copies of day-1 web events and orders on day 2; a web event
    # re-sent on day 3 with another page (same timestamp: the fingerprint decides); a web
    # event re-sent on day 2 one hour later (the later version wins); an order re-sent on
    # day 3 with another total; a campaign event re-sent on day 2.
    valid_day1 = (
        "delivery = 1 and try_cast({ts} as timestamp) < date '{d1}' and copy_number = 1"
        " and {key} is not null"
    )
    web_day1 = valid_day1.format(ts="event_ts", d1=DAYS[0], key="event_id")
    orders_day1 = valid_day1.format(ts="order_ts", d1=DAYS[0], key="order_id")
    con.execute(
        f"""
        insert into web_events_days
        select * replace (2 as delivery) from (
            select * from web_events_days where {web_day1} and event_type in ('page_view', 'login')
            order by rn limit 5
        )
        union all
        select * replace (3 as delivery, page_url || '?resent' as page_url) from (
            select * from web_events_days where {web_day1} and page_url is not null
            order by rn limit 1 offset 10
        )
        union all
        select * replace (
            2 as delivery,
            cast(try_cast(event_ts as timestamp) + interval 1 hour as varchar) as event_ts
        ) from (select * from web_events_days where {web_day1} order by rn limit 1 offset 20)
        """
    )
    con.execute(
        f"""
        insert into orders_days
        select * replace (2 as delivery) from (
            select * from orders_days where {orders_day1} order by rn limit 3
        )
        union all
        select * replace (3 as delivery, '1.23' as order_total) from (
            select * from orders_days where {orders_day1} and status = 'completed'
            order by rn limit 1 offset 10
        )
        """
    )
    con.execute(
        f"""
        insert into campaign_events_days
        select * replace (2 as delivery) from (
            select * from campaign_events_days
            where delivery = 1 and try_cast(event_ts as timestamp) < date '{DAYS[0]}'
            order by rn limit 2
        )
        """
    )
    # Order lines travel with their order, except some one day later and some one day
    # earlier (an orphan until its order lands).
    con.execute(
        f"""
        create table order_items_days as
        with numbered as (
            select *, row_number() over () as rn
            from read_csv(
                {sql_literal(single / "order_items.csv")}, all_varchar = true, header = true
            )
        ),
        order_day as (
            select order_id, min(delivery) as delivery from orders_days group by order_id
        )
        select numbered.*, 1 as copy_number,
            case
                when order_day.delivery is null then 1 + hash(numbered.rn) % 3
                when hash(numbered.rn) % 30 = 0 then least(order_day.delivery + 1, 3)
                when hash(numbered.rn) % 50 = 1 then greatest(order_day.delivery - 1, 1)
                else order_day.delivery
            end as delivery
        from numbered left join order_day on numbered.order_id = order_day.order_id
        """
    )
    sources = {**LARGE_SOURCES, "order_items": ("", "csv")}
    for source, (_, fmt) in sources.items():
        for number, day in enumerate(DAYS, start=1):
            folder = days_dir / str(number) / source
            folder.mkdir(parents=True)
            options = "format parquet" if fmt == "parquet" else "format csv, header true"
            target = sql_literal(folder / f"{day.isoformat()}.{fmt}")
            con.execute(
                f"copy (select * exclude (rn, copy_number, delivery) from {source}_days"
                f" where delivery = {number} order by rn) to {target} ({options})"
            )
    counts = {
        "late_web_events": con.execute(
            "select count(*) from web_events_days where delivery > 1"
            f" and try_cast(event_ts as timestamp) < date '{DAYS[0]}'"
        ).fetchone()[0],
        "early_web_events": con.execute(
            "select count(*) from web_events_days where delivery = 1"
            f" and try_cast(event_ts as timestamp) >= date '{DAYS[1]}'"
        ).fetchone()[0],
        "items_before_order": con.execute(
            "select count(*) from order_items_days as i join orders_days as o using (order_id)"
            " where i.delivery < o.delivery"
        ).fetchone()[0],
    }
    con.close()
    return counts


def deliver(days_dir: Path, raw_dir: Path, number: int) -> None:
    """Land day `number`'s delivery files in raw_dir."""
    for source in (*LARGE_SOURCES, "order_items"):
        for path in (days_dir / str(number) / source).iterdir():
            (raw_dir / source).mkdir(exist_ok=True)
            shutil.copy2(path, raw_dir / source / path.name)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, dbt_project: Path) -> dict:
    """Day 1 built, days 2 and 3 run incrementally; the same folder rebuilt in full. The
    data tests run on day 3 only (they check every row the chain wrote, as the session's
    three-date chain does); the comparison with the full rebuild checks the rest."""
    root = tmp_path_factory.mktemp("incremental")
    generate(CUSTOMERS, SEED, root / "single", root / "truth", DAYS[-1])
    counts = split_deliveries(root / "single", root / "days")
    incremental = make_workspace(root / "incremental")
    for source in SMALL_SOURCES:
        shutil.copy2(root / "single" / f"{source}.csv", incremental.raw_dir)
    stamps = []
    for number, day in enumerate(DAYS, start=1):
        deliver(root / "days", incremental.raw_dir, number)
        tests = NO_UNIT_TESTS if day == DAYS[-1] else NO_DATA_TESTS
        run = incremental.dbt(
            "build", "--select", SELECTOR, "--indirect-selection", "cautious", *tests,
            dbt_vars=day_vars(day),
        )  # fmt: skip
        assert run.returncode == 0, run.output
        stamps.append(run.output)
    # The full rebuild reads the very same landing folder (landing_file paths are equal), into
    # a new warehouse that holds only the chain's stored fits (the churn model, the Splink
    # model, the k sweep): fits are kept for their retrain period, as a --full-refresh of the
    # chain's own warehouse keeps them (docs/incremental.md), and a new warehouse would refit
    # on day 3's view of the anchor's training rows, which the day's deliveries moved.
    # Its file is named as every suite workspace's (the name is the catalog dbt parses into
    # the nodes, so the saved parse state fits).
    full = Workspace(
        raw_dir=incremental.raw_dir,
        warehouse=root / "full" / "warehouse.duckdb",
        scratch=root / "full",
    )
    (root / "full").mkdir()
    copy_stored_fits(incremental.warehouse, full.warehouse)
    run = full.dbt(
        "build", "--full-refresh", "--select", SELECTOR, "--indirect-selection", "cautious",
        *NO_DATA_TESTS, dbt_vars=day_vars(DAYS[-1]),
    )  # fmt: skip
    assert run.returncode == 0, run.output
    return {"incremental": incremental, "full": full, "counts": counts, "outputs": stamps}


def copy_stored_fits(source: Path, target: Path) -> None:
    """Copy the tables of the fits kept across builds (segwarehouse.ml.model_cache) that
    `source` has into a new warehouse `target`."""
    with duckdb.connect(str(target)) as con:
        con.execute("attach ? as chain (read_only)", [str(source)])
        for table in STORED_FITS:
            schema, name = table.split(".")
            [(present,)] = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'chain' "
                "and schema_name = ? and table_name = ?",
                [schema, name],
            ).fetchall()
            if present:
                con.execute(f"create schema if not exists {schema}")
                con.execute(f"create table {table} as select * from chain.{table}")


def test_deliveries_exercise_the_cases(chain: dict) -> None:
    counts = chain["counts"]
    assert counts["late_web_events"] > 0
    assert counts["early_web_events"] > 0
    assert counts["items_before_order"] > 0
    # Day 2 and day 3 were incremental runs, not silent rebuilds.
    for output in chain["outputs"][1:]:
        assert "base_web__events: incremental" in output
        assert "full rebuild" not in output


@pytest.mark.parametrize("table", COMPARED)
def test_incremental_chain_equals_full_rebuild(chain: dict, table: str) -> None:
    con = duckdb.connect()
    con.execute("attach ? as left_side (read_only)", [str(chain["incremental"].warehouse)])
    con.execute("attach ? as right_side (read_only)", [str(chain["full"].warehouse)])
    # Every column but the run stamp (the landing files are the same on both sides).
    compared = compare_table(con, table, excluded=(RUN_STAMP,))
    assert compared.right_rows > 0 and compared.left_rows == compared.right_rows
    assert compared.equal, compared


def test_dispositions_cover_the_cases(chain: dict) -> None:
    """The compared tables hold the interesting statuses (the equality above is not vacuous)."""
    statuses = dict(
        chain["full"].query(
            "select row_status || coalesce(':' || quarantine_reason, ''), count(*)"
            " from staging.base_web__events group by 1"
        )
    )
    assert statuses.get("duplicate", 0) > 0
    assert statuses.get("quarantined:conflicting_duplicate_key", 0) >= 2
    assert statuses.get("quarantined:future_timestamp", 0) > 0
    orders = dict(
        chain["full"].query(
            "select coalesce(quarantine_reason, row_status), count(*)"
            " from staging.base_commerce__orders group by 1"
        )
    )
    assert orders.get("conflicting_duplicate_key", 0) > 0
    assert orders.get("duplicate", 0) > 0


@pytest.mark.parametrize("table", BASE_TABLES)
def test_daily_run_processes_part_of_the_rows(chain: dict, table: str) -> None:
    """The day-3 run re-classified every row of the day-3 files but far from every row."""
    incremental: Workspace = chain["incremental"]
    (total, last_run, day3_rows, day3_reclassified) = incremental.query(
        f"""
        select
            count(*),
            count(*) filter (where {RUN_STAMP} = (select max({RUN_STAMP}) from {table})),
            count(*) filter (where landing_file like '%{DAYS[-1].isoformat()}%'),
            count(*) filter (
                where landing_file like '%{DAYS[-1].isoformat()}%'
                and {RUN_STAMP} = (select max({RUN_STAMP}) from {table})
            )
        from {table}
        """
    )[0]
    assert day3_rows > 0
    assert day3_reclassified == day3_rows
    assert day3_rows <= last_run < total / 2
    # The full build stamped every row with its one run.
    assert chain["full"].query(f"select count(distinct {RUN_STAMP}) from {table}") == [(1,)]


def required_files(raw_dir: Path) -> None:
    """The two required landing files, one valid row each."""
    (raw_dir / "crm_customers.csv").write_text(
        "customer_id,email,phone,first_name,last_name,birth_date,gender,street_address,city,"
        "region,postal_code,country,loyalty_id,source_system,created_at,updated_at\n"
        "C1,a@b.com,555-123-4567,Ann,Lee,1980-01-01,F,1 Main St,Springfield,IL,62701,US,L1,"
        "webshop,2024-01-01 00:00:00,2024-01-01 00:00:00\n"
    )
    (raw_dir / "orders.csv").write_text(
        "order_id,customer_id,email,loyalty_id,anonymous_id,order_ts,channel,status,currency,"
        "order_total,discount_amount\nO1,C1,,,,2024-05-01 10:00:00,web,completed,USD,10.00,0\n"
    )


@pytest.mark.usefixtures("dbt_project")
def test_folder_and_file_together_are_refused(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "both")
    required_files(workspace.raw_dir)
    (workspace.raw_dir / "web_events").mkdir()
    header = "event_id,anonymous_id,event_type,event_ts"
    (workspace.raw_dir / "web_events.csv").write_text(header + "\n")
    (workspace.raw_dir / "web_events" / "2026-06-30.csv").write_text(header + "\n")
    run = workspace.dbt("run", "--select", "stg_web__events", dbt_vars=day_vars(DAYS[-1]))
    assert run.returncode != 0
    assert "web_events.csv" in run.output and "web_events/" in run.output
    assert "keep one layout" in run.output


@pytest.mark.usefixtures("dbt_project")
def test_contract_is_checked_per_delivery_file(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "contract")
    required_files(workspace.raw_dir)
    folder = workspace.raw_dir / "web_events"
    folder.mkdir()
    (folder / "2026-06-29.csv").write_text("event_id,anonymous_id,event_type,event_ts\n")
    (folder / "2026-06-30.csv").write_text("event_id,anonymous_id,event_ts\n")
    run = workspace.dbt("run", "--select", "stg_web__events", dbt_vars=day_vars(DAYS[-1]))
    assert run.returncode != 0
    assert "2026-06-30.csv has no column 'event_type'" in run.output
