"""Re-land generated single-file sources as folders of daily deliveries.

The generator writes one file per source. A scheduled job sees sources land a file a day
instead (docs/incremental.md), so the refresh benchmarks split each large source into
`<raw>/<source>/<day>.parquet`: one file for everything dated more than a week before the last
day (named for the day before the first daily file), one file per day for the week before it,
and one for the last day (with any rows the generator dates later). Order items follow their
order's day. The other sources are copied as they are.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from segwarehouse.settings import OPTIONAL_SOURCES, REQUIRED_SOURCES
from segwarehouse.sqltext import sql_literal

# Large sources and the column that dates a row (None: dated by its order).
LARGE_SOURCES: dict[str, str | None] = {
    "web_events": "event_ts",
    "orders": "order_ts",
    "order_items": None,
    "campaign_events": "event_ts",
}
DAILY_FILES = 7
# The base models of the large sources: incremental (docs/incremental.md), so a one-day
# refresh builds them from the day's delivery only.
INCREMENTAL_BASE_MODELS = (
    "base_web__events",
    "base_commerce__orders",
    "base_commerce__order_items",
    "base_marketing__campaign_events",
)
SOURCES = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)


@dataclass(frozen=True)
class Landed:
    """Rows per large source before the last day and in the last day's file, and that file."""

    history_rows: dict[str, int]
    last_day_rows: dict[str, int]
    last_day_files: dict[str, Path]


def _reader(single: Path, source: str) -> str:
    """read_csv (all text, as the raw contract reads CSV) or read_parquet of one source."""
    csv, parquet = single / f"{source}.csv", single / f"{source}.parquet"
    if parquet.is_file():
        return f"read_parquet({sql_literal(parquet)})"
    if csv.is_file():
        return f"read_csv({sql_literal(csv)}, all_varchar = true)"
    raise FileNotFoundError(f"{single}: no {source}.csv or {source}.parquet to split into days")


def land_daily(single: Path, raw: Path, last_day: date) -> Landed:
    """Split the large sources of `single` into daily deliveries under `raw`, copy the rest."""
    first_daily = last_day - timedelta(days=DAILY_FILES)
    day_of = (
        "least(greatest(cast(try_cast({ts} as timestamp) as date), date '{first}'), date '{last}')"
    )
    order_day = (
        "select order_id, max("
        + day_of.format(ts="order_ts", first=first_daily, last=last_day)
        + f") as delivery from {_reader(single, 'orders')} group by order_id"
    )
    history: dict[str, int] = {}
    last: dict[str, int] = {}
    files: dict[str, Path] = {}
    raw.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        for source, ts_column in LARGE_SOURCES.items():
            if ts_column is None:
                delivery = f"coalesce(order_day.delivery, date '{first_daily}')"
                relation = (
                    f"{_reader(single, source)} as rows_in "
                    f"left join ({order_day}) as order_day using (order_id)"
                )
            else:
                day = day_of.format(ts=ts_column, first=first_daily, last=last_day)
                delivery = f"coalesce({day}, date '{first_daily}')"
                relation = f"{_reader(single, source)} as rows_in"
            (raw / source).mkdir(parents=True, exist_ok=True)
            con.execute(
                f"create or replace table delivered as select rows_in.*, {delivery} as delivery"
                f" from {relation}"
            )
            days = [row[0] for row in con.sql("select distinct delivery from delivered").fetchall()]
            for delivered_on in days:
                name = (
                    delivered_on - timedelta(days=1)
                    if delivered_on == first_daily
                    else delivered_on
                )
                path = raw / source / f"{name.isoformat()}.parquet"
                con.execute(
                    "copy (select * exclude (delivery) from delivered"
                    f" where delivery = date '{delivered_on}')"
                    f" to {sql_literal(path)} (format parquet)"
                )
            [(before, on_last)] = con.sql(
                f"select count(*) filter (where delivery < date '{last_day}'),"
                f" count(*) filter (where delivery = date '{last_day}') from delivered"
            ).fetchall()
            history[source], last[source] = int(before), int(on_last)
            last_file = raw / source / f"{last_day.isoformat()}.parquet"
            if last_file.is_file():
                files[source] = last_file
    for path in sorted(single.iterdir()):
        if path.stem in SOURCES and path.stem not in LARGE_SOURCES:
            shutil.copy2(path, raw / path.name)
    return Landed(history_rows=history, last_day_rows=last, last_day_files=files)
