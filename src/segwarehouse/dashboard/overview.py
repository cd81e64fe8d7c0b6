"""The dashboard's first page, for a marketing lead: KPI tiles, trends, audiences, actions, tests.

Every figure is an aggregate computed in DuckDB from the serving file (`overview_data`), then
embedded as JSON in the page; the page's JavaScript draws the charts with plotly and applies
the filters (segment, date range) in the browser, so a filter needs no server and no query.

Runs: one per as_of_date in marts.segment_health_runs (the incremental run manifest). The
KPI tiles compare the latest run on or before the date filter's end with the run before it:
- customers / members: segment_health_runs.customers (all) or segment_health.members;
- active buyers, revenue 90 d: completed orders in the ACTIVE_DAYS days ending on the run's
  as_of_date (marts.fct_orders), of everyone or of the segment's members at that run
  (marts.segment_membership_history spells);
- mean CLV, mean churn probability: the member-weighted means of the run's marts.segment_health
  rows (the lifecycle family, which partitions all customers, for "all").
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from segwarehouse.dashboard.overview_experiments import EXPERIMENT_TABLES, experiment_results
from segwarehouse.dashboard.source import Warehouse, segment_sizes_by_build

ALL = "__all__"
# Window of "active buyers" and "revenue 90 d": customer_features' 90-day window and the
# lifecycle "active" threshold (var segments__lifecycle_active_days) by default.
ACTIVE_DAYS = 90
# Within a family no two segments share a colour (the largest family has 12 segments).
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#ff9da6",
    "#2f4b7c",
    "#bab0ac",
    "#17becf",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
    "#d62728",
)


@dataclass
class OverviewData:
    """The frames behind the first page, and what could not be shown (table -> reason)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def payload(self) -> str:
        """The frames as one JSON object of record lists (dates as YYYY-MM-DD), safe inside
        a <script> element."""
        body = {
            key: json.loads(frame.to_json(orient="records", date_format="iso"))
            for key, frame in self.frames.items()
        }
        for records in body.values():
            for record in records:
                for name, value in record.items():
                    if isinstance(value, str) and len(value) == 23 and value[10] == "T":
                        record[name] = value[:10]  # pandas' ISO timestamp of a date
        body["missing"] = self.missing
        body["errors"] = self.errors
        body["palette"] = list(PALETTE)
        return json.dumps(body, separators=(",", ":")).replace("</", "<\\/")


_Query = Callable[[Warehouse], pd.DataFrame]
QUERIES: dict[str, tuple[tuple[str, ...], _Query]] = {}


def query(key: str, requires: tuple[str, ...]) -> Callable[[_Query], _Query]:
    """Register one frame of the page with the tables it reads."""

    def register(function: _Query) -> _Query:
        QUERIES[key] = (requires, function)
        return function

    return register


def overview_data(warehouse: Warehouse) -> OverviewData:
    """Every registered frame; a frame whose tables are absent is listed in `missing`, one
    whose query fails in `errors` (never raises for one frame)."""
    data = OverviewData()
    for key, (requires, function) in QUERIES.items():
        absent = [table for table in requires if not warehouse.has(table)]
        if absent:
            data.missing[key] = f"not available in this warehouse: {', '.join(absent)} missing"
            continue
        try:
            data.frames[key] = function(warehouse)
        except Exception as error:  # a renamed column: that panel says so, the rest renders
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            data.errors[key] = detail
    return data


@query("runs", ("marts.segment_health_runs",))
def runs(warehouse: Warehouse) -> pd.DataFrame:
    """One row per run (as_of_date) with the run before it."""
    return warehouse.frame(
        "select as_of_date, previous_as_of_date, customers "
        "from marts.segment_health_runs order by as_of_date"
    )


_KPIS = f"""
with runs as (
    select as_of_date, customers from marts.segment_health_runs
),

orders as (
    select customer_key, order_date, cast(order_total as double) as order_total
    from marts.fct_orders
    where is_completed
),

-- members of each segment at each run: spells covering the run's date
members as (
    select runs.as_of_date, history.segment_id, history.customer_key
    from runs
    inner join marts.segment_membership_history as history
        on runs.as_of_date between history.valid_from and history.last_seen_on
),

window_orders as (
    select runs.as_of_date, orders.customer_key, orders.order_total
    from runs
    inner join orders
        on orders.order_date > runs.as_of_date - {ACTIVE_DAYS}
        and orders.order_date <= runs.as_of_date
),

all_buyers as (
    select
        as_of_date,
        count(distinct customer_key) as active_buyers,
        sum(order_total) as revenue_90d
    from window_orders
    group by as_of_date
),

segment_buyers as (
    select
        members.as_of_date,
        members.segment_id,
        count(distinct window_orders.customer_key) as active_buyers,
        coalesce(sum(window_orders.order_total), 0) as revenue_90d
    from members
    left join window_orders
        on members.as_of_date = window_orders.as_of_date
        and members.customer_key = window_orders.customer_key
    group by members.as_of_date, members.segment_id
),

health as (
    select
        as_of_date,
        segment_id,
        segment_family,
        members,
        mean_clv,
        mean_churn_probability
    from marts.segment_health
),

-- lifecycle stages partition every customer: their member-weighted means are everyone's
all_scores as (
    select
        as_of_date,
        sum(members * mean_clv) / sum(members) filter (where mean_clv is not null)
            as mean_clv,
        sum(members * mean_churn_probability)
        / sum(members) filter (where mean_churn_probability is not null)
            as mean_churn_probability
    from health
    where segment_family = 'lifecycle'
    group by as_of_date
),

everyone as (
    select
        '{ALL}' as segment_id,
        runs.as_of_date,
        runs.customers,
        coalesce(all_buyers.active_buyers, 0) as active_buyers,
        coalesce(all_buyers.revenue_90d, 0) as revenue_90d,
        all_scores.mean_clv,
        all_scores.mean_churn_probability
    from runs
    left join all_buyers on runs.as_of_date = all_buyers.as_of_date
    left join all_scores on runs.as_of_date = all_scores.as_of_date
),

segments as (
    select
        health.segment_id,
        health.as_of_date,
        health.members as customers,
        coalesce(segment_buyers.active_buyers, 0) as active_buyers,
        coalesce(segment_buyers.revenue_90d, 0) as revenue_90d,
        health.mean_clv,
        health.mean_churn_probability
    from health
    left join segment_buyers
        on health.as_of_date = segment_buyers.as_of_date
        and health.segment_id = segment_buyers.segment_id
),

final as (
    select * from everyone
    union all
    select * from segments
)

select * from final order by segment_id, as_of_date
"""


@query(
    "kpis",
    (
        "marts.segment_health_runs",
        "marts.segment_health",
        "marts.segment_membership_history",
        "marts.fct_orders",
    ),
)
def kpis(warehouse: Warehouse) -> pd.DataFrame:
    """KPI values per segment (ALL = everyone) and run."""
    return warehouse.frame(_KPIS)


@query("segments", ("marts.segment_health",))
def segments(warehouse: Warehouse) -> pd.DataFrame:
    """Every segment the health mart knows (the filter's options), by family."""
    return warehouse.frame(
        """
        select segment_id, any_value(segment_family) as segment_family,
            arg_max(segment_name, as_of_date) as segment_name
        from marts.segment_health
        group by segment_id
        order by segment_family, segment_id
        """
    )


@query("revenue_weekly", ("marts.fct_orders", "marts.segment_membership"))
def revenue_weekly(warehouse: Warehouse) -> pd.DataFrame:
    """Completed-order revenue per week (Monday), of everyone and of each segment's current
    members."""
    return warehouse.frame(
        f"""
        with orders as (
            select customer_key, cast(date_trunc('week', order_date) as date) as week,
                cast(order_total as double) as order_total
            from marts.fct_orders
            where is_completed
        )
        select '{ALL}' as segment_id, week, sum(order_total) as revenue, count(*) as orders
        from orders group by week
        union all
        select membership.segment_id, orders.week, sum(orders.order_total), count(*)
        from orders
        inner join marts.segment_membership as membership
            on orders.customer_key = membership.customer_key
        group by membership.segment_id, orders.week
        order by segment_id, week
        """
    )


@query("segment_sizes", ("marts.segment_membership_history",))
def segment_sizes(warehouse: Warehouse) -> pd.DataFrame:
    """Members per segment at every build date (0 after a segment empties)."""
    return segment_sizes_by_build(warehouse)


@query("funnel", ("marts.audience_summary",))
def funnel(warehouse: Warehouse) -> pd.DataFrame:
    """Each audience's funnel at the latest as_of_date: members -> control held out -> no
    consent (and erased, no contact) -> exported."""
    return warehouse.frame(
        """
        select audience_id, audience_name, segment_id, destination_id, member_count,
            control_count, no_consent_count, erased_count, no_contact_count, exported_count
        from marts.audience_summary
        where as_of_date = (select max(as_of_date) from marts.audience_summary)
        order by audience_id
        """
    )


@query("next_best_action", ("marts.customer_next_best_action", "marts.segment_membership"))
def next_best_action(warehouse: Warehouse) -> pd.DataFrame:
    """Customers per next best action, of everyone and of each segment's members, and how
    many of them got it because a better-matching action's channel had no consent (actions
    are only proposed on consented channels; 'no action' = no reachable channel)."""
    return warehouse.frame(
        f"""
        with actions as (
            select
                customer_key,
                coalesce(action, 'no action') as action,
                coalesce(channel, 'none') as channel,
                decision_reason in (
                    'next_eligible_no_consent', 'fallback_no_consent', 'no_reachable_channel'
                ) as is_moved_by_consent
            from marts.customer_next_best_action
        )
        select '{ALL}' as segment_id, action, channel, count(*) as customers,
            count(*) filter (where is_moved_by_consent) as moved_by_consent
        from actions group by action, channel
        union all
        select membership.segment_id, actions.action, actions.channel, count(*),
            count(*) filter (where actions.is_moved_by_consent)
        from actions
        inner join marts.segment_membership as membership
            on actions.customer_key = membership.customer_key
        group by membership.segment_id, actions.action, actions.channel
        order by segment_id, customers desc, action
        """
    )


@query("experiments", ("marts.campaign_lift",))
def experiments(warehouse: Warehouse) -> pd.DataFrame:
    """The latest campaign lift results: conversion and revenue-per-member lift with their
    confidence intervals."""
    return warehouse.frame(
        """
        select campaign_id, conversion_lift_abs, conversion_lift_ci_low,
            conversion_lift_ci_high, conversion_p_value, revenue_lift_abs, revenue_lift_ci_low,
            revenue_lift_ci_high, revenue_p_value
        from marts.campaign_lift
        where as_of_date = (select max(as_of_date) from marts.campaign_lift)
        order by campaign_id
        """
    )


# The warehouse's own holdouts (its own module: the table is rendered server-side).
query("holdout_experiments", EXPERIMENT_TABLES)(experiment_results)
