"""customer_features against an independent pandas computation, and point-in-time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from conftest import (
    BUILD_VARS,
    END_DATE,
    NO_DATA_TESTS,
    Workspace,
    linked_workspace,
    make_workspace,
)
from test_staging_generated import filtered_copy

AS_OF = pd.Timestamp(END_DATE)


def test_order_features_match_an_independent_computation(built: Workspace) -> None:
    orders = pd.DataFrame(
        built.query(
            """
            select m.customer_key, o.order_id, o.status, o.order_ts,
                   cast(o.order_total_reporting as double) as total
            from staging.stg_commerce__orders as o
            inner join marts.customer_record_map as m
                on m.record_type = 'order' and m.record_id = o.order_id
            where m.customer_key is not null
            """
        ),
        columns=["customer_key", "order_id", "status", "order_ts", "total"],
    )
    completed = orders[orders["status"] == "completed"].copy()
    completed["day"] = completed["order_ts"].dt.normalize()
    expected = completed.groupby("customer_key").agg(
        order_count=("order_id", "count"),
        purchase_days=("day", "nunique"),
        net_revenue=("total", "sum"),
        last_day=("day", "max"),
    )
    expected["recency_days"] = (AS_OF - expected["last_day"]).dt.days
    recent = completed[completed["day"] > AS_OF - pd.Timedelta(days=90)]
    expected["orders_90d"] = recent.groupby("customer_key")["order_id"].count()
    expected["orders_90d"] = expected["orders_90d"].fillna(0).astype(int)
    returned = orders[orders["status"] == "returned"].groupby("customer_key")["order_id"].count()
    all_orders = orders.groupby("customer_key")["order_id"].count()
    expected["return_rate"] = (returned / all_orders).reindex(expected.index).fillna(0)

    actual = pd.DataFrame(
        built.query(
            "select customer_key, order_count, purchase_days, cast(net_revenue as double), "
            "recency_days, orders_90d, return_rate, is_prospect from marts.customer_features"
        ),
        columns=[
            "customer_key",
            "order_count",
            "purchase_days",
            "net_revenue",
            "recency_days",
            "orders_90d",
            "return_rate",
            "is_prospect",
        ],
    ).set_index("customer_key")
    buyers = actual[~actual["is_prospect"]]
    assert set(buyers.index) == set(expected.index)
    joined = buyers.merge(expected, left_index=True, right_index=True, suffixes=("", "_expected"))
    for column in ("order_count", "purchase_days", "recency_days", "orders_90d"):
        assert (joined[column] == joined[f"{column}_expected"]).all(), column
    assert (joined["net_revenue"] - joined["net_revenue_expected"]).abs().max() < 0.01
    assert (joined["return_rate"] - joined["return_rate_expected"]).abs().max() < 1e-9
    prospects = actual[actual["is_prospect"]]
    assert len(prospects) > 0
    assert (prospects["order_count"] == 0).all() and prospects["recency_days"].isna().all()


@pytest.mark.usefixtures("dbt_project")
def test_features_ignore_data_dated_after_as_of_date(generated: Path, tmp_path: Path) -> None:
    """Building as of a past date on today's files equals building on the files cut then."""
    as_of = date(2026, 3, 31).isoformat()
    full = linked_workspace(tmp_path / "full", generated / "raw")
    cut = make_workspace(tmp_path / "cut")
    cut.raw_dir.rmdir()
    filtered_copy(generated / "raw", cut.raw_dir, as_of)
    for workspace in (full, cut):
        run = workspace.dbt(
            "build",
            "--select",
            "+customer_features",
            "--indirect-selection",
            "cautious",
            *NO_DATA_TESTS,  # the session's `built` runs them; this is about dates
            dbt_vars={**BUILD_VARS, "as_of_date": as_of},
        )
        assert run.returncode == 0, run.output
    query = "select * from marts.customer_features order by customer_key"
    full_rows, cut_rows = full.query(query), cut.query(query)
    assert len(full_rows) > 1_000
    assert full_rows == cut_rows
