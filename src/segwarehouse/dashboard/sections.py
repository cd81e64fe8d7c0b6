"""The dashboard's sections: each one query over the published marts and one figure.

A section declares the tables it reads (`requires`). `render_section` turns it into a
`Panel`: "missing" (with the message "not available in this warehouse: <table> missing")
when a required table is absent, "empty" when the query returns no rows, "error" when the
query or the figure fails, else "ok". So a section over a mart that is not built yet costs
nothing until the mart appears, and adding one is a query, a figure and a decorator.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segwarehouse.dashboard.source import Warehouse, segment_sizes_by_build

FAMILY_COLOURS = {
    "rule": "#4c78a8",
    "rfm": "#f58518",
    "lifecycle": "#54a24b",
    "churn_risk": "#e45756",
}
BAND_COLOURS = {"low": "#54a24b", "medium": "#f2b134", "high": "#e45756"}
BAND_ORDER = ("low", "medium", "high")
PROFILE_COLUMNS = (
    "mean_recency_days",
    "mean_purchase_days",
    "mean_net_revenue",
    "mean_avg_order_value",
    "mean_distinct_categories",
    "mean_discount_share",
    "mean_return_rate",
    "mean_sessions_30d",
    "mean_email_open_rate",
    "mean_mobile_session_share",
)
# Whiskers of the CLV boxes: these quantiles (the boxes are quartiles), computed in DuckDB so
# the report holds five numbers per segment, not one point per customer.
CLV_WHISKER_QUANTILES = (0.05, 0.95)


@dataclass(frozen=True)
class Options:
    """Knobs of a build (command-line options of `segwarehouse dashboard build`)."""

    scatter_sample: int = 5000
    churn_bins: int = 20
    seed: int = 42


@dataclass
class Result:
    """What a section function returns: the figure, the rows behind it, an optional table."""

    figure: go.Figure | None
    data: pd.DataFrame
    table: pd.DataFrame | None = None
    note: str | None = None


class NoRows(Exception):
    """The section's query returned nothing."""


@dataclass(frozen=True)
class Section:
    """One panel of the dashboard."""

    key: str
    title: str
    description: str
    requires: tuple[str, ...]
    render: Callable[[Warehouse, Options], Result]


@dataclass
class Panel:
    """A rendered section."""

    section: Section
    status: str  # ok | missing | empty | error
    message: str | None = None
    result: Result | None = None
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return self.section.key

    @property
    def title(self) -> str:
        return self.section.title


SECTIONS: list[Section] = []


def section(
    key: str, title: str, description: str, requires: tuple[str, ...]
) -> Callable[[Callable[[Warehouse, Options], Result]], Callable[[Warehouse, Options], Result]]:
    """Register a section function (in page order)."""

    def register(
        render: Callable[[Warehouse, Options], Result],
    ) -> Callable[[Warehouse, Options], Result]:
        SECTIONS.append(Section(key, title, description, requires, render))
        return render

    return register


def render_section(item: Section, warehouse: Warehouse, options: Options) -> Panel:
    """Run one section; never raises."""
    started = time.perf_counter()
    missing = [table for table in item.requires if not warehouse.has(table)]
    if missing:
        message = f"not available in this warehouse: {', '.join(missing)} missing"
        return Panel(item, "missing", message)
    try:
        result = item.render(warehouse, options)
    except NoRows as empty:
        return Panel(item, "empty", str(empty), seconds=time.perf_counter() - started)
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        return Panel(item, "error", detail, seconds=time.perf_counter() - started)
    return Panel(item, "ok", result.note, result, time.perf_counter() - started)


def _day(value: object) -> str:
    """A date or timestamp as YYYY-MM-DD."""
    return str(pd.Timestamp(value).date()) if pd.notna(value) else "?"


def _rows(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    if frame.empty:
        raise NoRows(f"{table} has no rows in this warehouse")
    return frame


def _layout(figure: go.Figure, height: int = 420, **kwargs: object) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.18},
        **kwargs,
    )
    return figure


# --- the run -------------------------------------------------------------------------------

# Statuses of a refresh attempt that published nothing (segwarehouse.publish / freshness).
FAILED_STATUSES = ("failed_audit", "error", "refused", "stale", "locked")


def run_log_path(warehouse_path: Path) -> Path:
    """`<serving>.runs.jsonl`: every refresh attempt, written beside the serving file."""
    return warehouse_path.with_name(warehouse_path.name + ".runs.jsonl")


def read_run_log(path: Path) -> pd.DataFrame:
    """The attempts of the run log (unreadable lines are skipped and counted in `bad_lines`)."""
    records, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
    frame = pd.DataFrame(records)
    frame.attrs["bad_lines"] = bad
    return frame


@section(
    "publish_status",
    "Last successful publish and last failure",
    "The latest run in the serving file's audit.publish_runs, and the latest refresh attempt "
    "that published nothing (audit failed, stale source, refused, locked, error) from the run "
    "log written beside the serving file (<serving>.runs.jsonl).",
    (),
)
def publish_status(warehouse: Warehouse, _options: Options) -> Result:
    rows = []
    if warehouse.has("audit.publish_runs"):
        published = warehouse.frame(
            "select finished_at, run_id, as_of_date, checks_passed, checks_failed "
            "from audit.publish_runs order by finished_at desc limit 1"
        )
        for run in published.itertuples():
            rows.append(
                {
                    "what": "last successful publish",
                    "finished_at": run.finished_at,
                    "run_id": run.run_id,
                    "status": "published",
                    "detail": f"as of {run.as_of_date or 'today'}, {run.checks_passed} checks "
                    f"passed, {run.checks_failed} failed",
                }
            )
    log = run_log_path(warehouse.path)
    notes = []
    if not log.is_file():
        notes.append(f"no run log {log.name} beside the serving file: failures unknown")
    else:
        attempts = read_run_log(log)
        if attempts.attrs["bad_lines"]:
            notes.append(f"{attempts.attrs['bad_lines']} unreadable line(s) in {log.name}")
        failed = (
            attempts[attempts["status"].isin(FAILED_STATUSES)]
            if "status" in attempts
            else attempts.iloc[0:0]
        )
        if failed.empty:
            notes.append(f"no failed refresh in {log.name}")
        else:
            last = failed.sort_values("finished_at").iloc[-1]
            failures = last.get("failures") or []
            rows.append(
                {
                    "what": "last failure",
                    "finished_at": last.get("finished_at"),
                    "run_id": last.get("run_id"),
                    "status": last.get("status"),
                    "detail": "; ".join(str(item) for item in failures[:3])
                    + (f" (+{len(failures) - 3} more)" if len(failures) > 3 else ""),
                }
            )
    if not rows:
        raise NoRows("no published run and no failed attempt recorded")
    frame = pd.DataFrame(rows)
    return Result(None, frame, frame, "; ".join(notes) or None)


@section(
    "publish_runs",
    "Last published runs",
    "Each publish of the serving file (write-audit-publish): data-quality checks passed and "
    "failed. Only audited builds are published, so a bar here means the gate was green.",
    ("audit.publish_runs",),
)
def publish_runs(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            "select run_id, as_of_date, finished_at, status, checks_passed, checks_failed "
            "from audit.publish_runs order by finished_at desc limit 20"
        ),
        "audit.publish_runs",
    ).iloc[::-1]
    labels = frame["finished_at"].str.slice(0, 19).str.replace("T", " ")
    figure = go.Figure(
        [
            go.Bar(
                name="checks passed", x=labels, y=frame["checks_passed"], marker_color="#54a24b"
            ),
            go.Bar(
                name="checks failed", x=labels, y=frame["checks_failed"], marker_color="#e45756"
            ),
        ]
    )
    _layout(figure, 320, barmode="stack", xaxis_title="published at (UTC)", yaxis_title="checks")
    table = frame.iloc[::-1].head(5)[
        ["finished_at", "as_of_date", "status", "checks_passed", "checks_failed", "run_id"]
    ]
    return Result(figure, frame, table)


@section(
    "data_quality",
    "Data-quality checks of the last run",
    "Great Expectations results of the most recent check run recorded in "
    "audit.data_quality_results, per suite; failed expectations are listed below the chart.",
    ("audit.data_quality_results",),
)
def data_quality(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            with last_run as (
                select run_id from audit.data_quality_results
                order by checked_at desc limit 1
            )
            select
                results.run_id,
                results.suite,
                results.expectation,
                results."column",
                results.success,
                results.observed_value,
                results.checked_at
            from audit.data_quality_results as results
            inner join last_run on results.run_id = last_run.run_id
            order by results.suite, results.expectation
            """
        ),
        "audit.data_quality_results",
    )
    per_suite = (
        frame.assign(passed=frame["success"].astype(int), failed=(~frame["success"]).astype(int))
        .groupby("suite", as_index=False)[["passed", "failed"]]
        .sum()
    )
    figure = go.Figure(
        [
            go.Bar(
                name="passed",
                y=per_suite["suite"],
                x=per_suite["passed"],
                orientation="h",
                marker_color="#54a24b",
            ),
            go.Bar(
                name="failed",
                y=per_suite["suite"],
                x=per_suite["failed"],
                orientation="h",
                marker_color="#e45756",
            ),
        ]
    )
    _layout(figure, 120 + 28 * len(per_suite), barmode="stack", xaxis_title="expectations")
    failed = frame.loc[~frame["success"], ["suite", "expectation", "column", "observed_value"]]
    status = "all passed" if failed.empty else f"{len(failed)} failed"
    note = f"run {frame['run_id'].iloc[0]} at {frame['checked_at'].max()}: {status}"
    return Result(figure, frame, failed if not failed.empty else None, note)


# --- segments -------------------------------------------------------------------------------


@section(
    "segment_sizes_now",
    "Segment sizes now",
    "Members per segment in marts.segment_membership (a customer counts once in every segment "
    "they belong to), coloured by family.",
    ("marts.segment_membership",),
)
def segment_sizes_now(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            select
                segment_family,
                exclusivity_group,
                segment_id,
                count(*) as members,
                count(*) filter (where is_primary) as primary_members,
                max(as_of_date) as as_of_date
            from marts.segment_membership
            group by segment_family, exclusivity_group, segment_id
            order by segment_family, members, segment_id
            """
        ),
        "marts.segment_membership",
    )
    figure = go.Figure(
        [
            go.Bar(
                name=family,
                y=rows["segment_id"],
                x=rows["members"],
                orientation="h",
                marker_color=FAMILY_COLOURS.get(family),
                customdata=rows[["exclusivity_group", "primary_members"]],
                hovertemplate="%{y}: %{x:,} members<br>group %{customdata[0]}, "
                "primary for %{customdata[1]:,}<extra></extra>",
            )
            for family, rows in frame.groupby("segment_family", sort=True)
        ]
    )
    _layout(figure, 140 + 20 * len(frame), xaxis_title="members")
    figure.update_yaxes(type="category", categoryorder="trace")
    return Result(figure, frame, note=f"as of {_day(frame['as_of_date'].max())}")


@section(
    "segment_sizes_over_time",
    "Segment sizes over time",
    "Members per segment at every build date in marts.segment_membership_history (a customer "
    "is a member on the builds from valid_from to last_seen_on); one line per segment.",
    ("marts.segment_membership_history",),
)
def segment_sizes_over_time(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(segment_sizes_by_build(warehouse), "marts.segment_membership_history")
    builds = frame["as_of_date"].nunique()
    # One build on a date axis gets hour ticks around that day: plot it as a category then.
    dates = pd.to_datetime(frame["as_of_date"])
    x = dates if builds > 1 else dates.dt.strftime("%Y-%m-%d")
    figure = go.Figure(
        [
            go.Scatter(
                name=segment_id,
                x=x[rows.index],
                y=rows["members"],
                mode="lines+markers",
                legendgroup=family,
                legendgrouptitle_text=family,
                hovertemplate=f"{segment_id}<br>%{{x|%Y-%m-%d}}: %{{y:,}}<extra></extra>",
            )
            for (family, segment_id), rows in frame.groupby(
                ["segment_family", "segment_id"], sort=True
            )
        ]
    )
    _layout(figure, 520, xaxis_title="as_of_date", yaxis_title="members")
    figure.update_layout(legend={"orientation": "v", "y": 1, "x": 1.02})
    figure.update_xaxes(type="date" if builds > 1 else "category")
    return Result(figure, frame, note=f"{builds} build date(s) in the history")


@section(
    "segment_health",
    "Segment health and alerts",
    "Members per segment per as_of_date from marts.segment_health; diamonds mark dates with "
    "alerts, the latest alerts are listed below.",
    ("marts.segment_health",),
)
def segment_health(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            select
                segment_id,
                as_of_date,
                members as member_count,
                nullif(alerts, '') as alerts
            from marts.segment_health
            order by segment_id, as_of_date
            """
        ),
        "marts.segment_health",
    )
    frame["has_alert"] = frame["alerts"].notna() & ~frame["alerts"].isin(["[]", "0", "{}"])
    traces: list[go.Scatter] = []
    for segment_id, rows in frame.groupby("segment_id", sort=True):
        traces.append(
            go.Scatter(
                name=segment_id,
                x=rows["as_of_date"],
                y=rows["member_count"],
                mode="lines+markers",
                legendgroup=segment_id,
            )
        )
    alerts = frame[frame["has_alert"]]
    if not alerts.empty:
        traces.append(
            go.Scatter(
                name="alert",
                x=alerts["as_of_date"],
                y=alerts["member_count"],
                mode="markers",
                marker={"symbol": "diamond", "size": 12, "color": "#e45756"},
                text=alerts["segment_id"] + ": " + alerts["alerts"],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure = _layout(go.Figure(traces), 460, xaxis_title="as_of_date", yaxis_title="members")
    latest = frame[frame["as_of_date"] == frame["as_of_date"].max()]
    table = latest.loc[latest["has_alert"], ["segment_id", "as_of_date", "member_count", "alerts"]]
    note = f"{len(table)} segment(s) with alerts on {_day(frame['as_of_date'].max())}"
    return Result(figure, frame, table if not table.empty else None, note)


@section(
    "segment_migration",
    "Migration between runs",
    "Customers moving from one segment to another between the last two runs, per exclusivity "
    "group (marts.segment_migration, latest as_of_date).",
    ("marts.segment_migration",),
)
def segment_migration(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            select exclusivity_group, from_segment_id, to_segment_id, customers, as_of_date
            from marts.segment_migration
            where as_of_date = (select max(as_of_date) from marts.segment_migration)
                and customers > 0
            order by exclusivity_group, from_segment_id, to_segment_id
            """
        ),
        "marts.segment_migration",
    )
    group = frame["exclusivity_group"].astype(str)
    sources = group + ": " + frame["from_segment_id"].fillna("(none)").astype(str) + " (before)"
    targets = group + ": " + frame["to_segment_id"].fillna("(none)").astype(str) + " (after)"
    labels = list(dict.fromkeys([*sources, *targets]))
    index = {label: position for position, label in enumerate(labels)}
    figure = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12, "thickness": 14},
            link={
                "source": [index[label] for label in sources],
                "target": [index[label] for label in targets],
                "value": frame["customers"].tolist(),
            },
        )
    )
    _layout(figure, max(420, 18 * len(labels)))
    return Result(figure, frame, note=f"as of {_day(frame['as_of_date'].max())}")


@section(
    "rfm_grid",
    "RFM grid",
    "Buyers per recency (R) and frequency (F) score in marts.customer_rfm, and their mean net "
    "revenue (monetary). Prospects have no scores and are left out.",
    ("marts.customer_rfm",),
)
def rfm_grid(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            select
                r_score,
                f_score,
                count(*) as customers,
                avg(net_revenue) as mean_monetary
            from marts.customer_rfm
            where r_score is not null and f_score is not null
            group by r_score, f_score
            order by r_score, f_score
            """
        ),
        "marts.customer_rfm",
    )
    scores = list(range(1, 6))
    counts = frame.pivot(index="r_score", columns="f_score", values="customers")
    counts = counts.reindex(index=scores, columns=scores)
    monetary = frame.pivot(index="r_score", columns="f_score", values="mean_monetary")
    monetary = monetary.reindex(index=scores, columns=scores)
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("buyers", "mean net revenue"), horizontal_spacing=0.12
    )
    for column, (grid, colours, label, fmt) in enumerate(
        (
            (counts, "Blues", "buyers", ",.0f"),
            (monetary, "Oranges", "mean net revenue", ",.0f"),
        ),
        start=1,
    ):
        figure.add_trace(
            go.Heatmap(
                z=grid.to_numpy(dtype=float),
                x=[f"F{score}" for score in scores],
                y=[f"R{score}" for score in scores],
                colorscale=colours,
                texttemplate=f"%{{z:{fmt}}}",
                hovertemplate=f"%{{y}} %{{x}}: %{{z:{fmt}}} {label}<extra></extra>",
                showscale=False,  # every cell prints its value
            ),
            row=1,
            col=column,
        )
    _layout(figure, 440)
    return Result(figure, frame)


# --- models -------------------------------------------------------------------------------


@section(
    "cluster_personas",
    "Cluster personas",
    "Centroid profile of each behavioural cluster (marts.cluster_profiles) as an index: 100 = "
    "the mean over all clustered buyers, 200 = twice that. Hover for the raw means.",
    ("marts.cluster_profiles",),
)
def cluster_personas(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame("select * from marts.cluster_profiles order by cluster_id"),
        "marts.cluster_profiles",
    )
    index = profile_index(frame)
    features = [column.removeprefix("mean_") for column in PROFILE_COLUMNS]
    figure = go.Figure(
        [
            go.Bar(
                name=f"{row.persona} ({row.n_customers:,})",
                x=features,
                y=index.loc[position].to_numpy(),
                customdata=frame.loc[position, list(PROFILE_COLUMNS)].to_numpy(dtype=float),
                hovertemplate="%{x}: index %{y:.0f}, mean %{customdata:,.2f}<extra></extra>",
            )
            for position, row in zip(frame.index, frame.itertuples(), strict=True)
        ]
    )
    figure.add_hline(y=100, line_dash="dot", line_color="#888")
    _layout(figure, 440, barmode="group", yaxis_title="index (100 = all buyers)")
    return Result(figure, frame)


def profile_index(profiles: pd.DataFrame) -> pd.DataFrame:
    """Each cluster's mean feature / the customer-weighted mean over all clusters, times 100."""
    means = profiles[list(PROFILE_COLUMNS)].astype(float)
    weights = profiles["n_customers"].astype(float).to_numpy()
    overall = (means.mul(weights, axis=0)).sum() / weights.sum()
    return means.div(overall.replace(0, np.nan)) * 100


@section(
    "cluster_scatter",
    "Clusters in two dimensions",
    "Buyers on the first two principal components of the clustering features "
    "(marts.customer_clusters), coloured by persona; a seeded random sample.",
    ("marts.customer_clusters",),
)
def cluster_scatter(warehouse: Warehouse, options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            f"""
            select cluster_id, persona, pca_1, pca_2
            from marts.customer_clusters
            using sample reservoir({int(options.scatter_sample)} rows)
            repeatable ({int(options.seed)})
            """
        ),
        "marts.customer_clusters",
    )
    total = int(warehouse.frame("select count(*) as n from marts.customer_clusters")["n"][0])
    figure = go.Figure(
        [
            go.Scatter(
                name=f"{cluster_id}: {persona}",
                x=rows["pca_1"],
                y=rows["pca_2"],
                mode="markers",
                marker={"size": 5, "opacity": 0.6},
            )
            for (cluster_id, persona), rows in frame.groupby(["cluster_id", "persona"], sort=True)
        ]
    )
    _layout(figure, 480, xaxis_title="PC 1", yaxis_title="PC 2")
    return Result(figure, frame, note=f"{len(frame):,} of {total:,} buyers shown")


@section(
    "clv_by_segment",
    "Customer lifetime value by segment",
    "Distribution of marts.customer_clv.clv among the members of each rule, RFM and lifecycle "
    "segment (marts.segment_membership): box = quartiles, whiskers = 5th and 95th percentile, "
    "dashed line = mean.",
    ("marts.customer_clv", "marts.segment_membership"),
)
def clv_by_segment(warehouse: Warehouse, _options: Options) -> Result:
    low, high = CLV_WHISKER_QUANTILES
    frame = _rows(
        warehouse.frame(
            """
            with quantiles as (
                select
                    membership.segment_family,
                    membership.segment_id,
                    count(*) as customers,
                    avg(clv.clv) as mean_clv,
                    quantile_cont(clv.clv, [?, 0.25, 0.5, 0.75, ?]) as q
                from marts.segment_membership as membership
                inner join marts.customer_clv as clv
                    on membership.customer_key = clv.customer_key
                where membership.segment_family in ('rule', 'rfm', 'lifecycle')
                group by membership.segment_family, membership.segment_id
            )

            select
                segment_family,
                segment_id,
                customers,
                mean_clv,
                q[1] as whisker_low,
                q[2] as q1,
                q[3] as median,
                q[4] as q3,
                q[5] as whisker_high
            from quantiles
            order by segment_family, median desc, segment_id
            """,
            [low, high],
        ),
        "marts.customer_clv joined to marts.segment_membership",
    )
    figure = go.Figure(
        [
            go.Box(
                name=family,
                x=rows["segment_id"],
                q1=rows["q1"],
                median=rows["median"],
                q3=rows["q3"],
                lowerfence=rows["whisker_low"],
                upperfence=rows["whisker_high"],
                mean=rows["mean_clv"],
                marker_color=FAMILY_COLOURS.get(family),
            )
            for family, rows in frame.groupby("segment_family", sort=True)
        ]
    )
    _layout(figure, 480, yaxis_title="CLV (reporting currency)")
    figure.update_xaxes(type="category", tickangle=-40)
    return Result(figure, frame)


@section(
    "churn_risk",
    "Churn risk bands",
    "Buyers by calibrated churn probability (marts.customer_churn_scores), coloured by risk "
    "band; the table gives each band's size and mean probability.",
    ("marts.customer_churn_scores",),
)
def churn_risk(warehouse: Warehouse, options: Options) -> Result:
    bins = int(options.churn_bins)
    frame = _rows(
        warehouse.frame(
            """
            select
                churn_risk_band,
                least(floor(churn_probability * ?), ? - 1) / ? as bin_start,
                count(*) as customers,
                sum(churn_probability) as probability_sum
            from marts.customer_churn_scores
            group by churn_risk_band, bin_start
            order by bin_start, churn_risk_band
            """,
            [bins, bins, bins],
        ),
        "marts.customer_churn_scores",
    )
    bands = [band for band in BAND_ORDER if band in set(frame["churn_risk_band"])]
    bands += sorted(set(frame["churn_risk_band"]) - set(bands))
    figure = go.Figure(
        [
            go.Bar(
                name=band,
                x=rows["bin_start"] + 0.5 / bins,
                y=rows["customers"],
                width=1 / bins,
                marker_color=BAND_COLOURS.get(band),
            )
            for band in bands
            for rows in [frame[frame["churn_risk_band"] == band]]
        ]
    )
    _layout(
        figure,
        380,
        barmode="stack",
        xaxis_title="churn probability",
        yaxis_title="buyers",
        xaxis_range=[0, 1],
    )
    summary = frame.groupby("churn_risk_band").agg(
        customers=("customers", "sum"), probability_sum=("probability_sum", "sum")
    )
    summary = summary.reindex(bands)
    table = pd.DataFrame(
        {
            "band": bands,
            "buyers": summary["customers"].to_numpy(),
            "share": (summary["customers"] / summary["customers"].sum()).round(3).to_numpy(),
            "mean probability": (summary["probability_sum"] / summary["customers"])
            .round(3)
            .to_numpy(),
        }
    )
    return Result(figure, frame, table)


@section(
    "campaign_lift",
    "Campaign lift",
    "Treatment minus control per campaign (marts.campaign_lift), with the confidence "
    "interval: conversion rate and revenue per member on separate axes; hover for the "
    "values and the p-value.",
    ("marts.campaign_lift",),
)
def campaign_lift(warehouse: Warehouse, _options: Options) -> Result:
    frame = _rows(
        warehouse.frame(
            """
            -- campaign_lift is one row per campaign (and as_of_date): the latest build's
            -- conversion and revenue-per-member comparisons, one row per metric here
            with latest as (
                select * from marts.campaign_lift
                where as_of_date = (select max(as_of_date) from marts.campaign_lift)
            )
            select
                campaign_id,
                'conversion rate' as metric,
                conversion_rate_treatment as treatment_value,
                conversion_rate_control as control_value,
                conversion_lift_abs as absolute_lift,
                conversion_lift_ci_low as ci_low,
                conversion_lift_ci_high as ci_high,
                conversion_p_value as p_value
            from latest
            where conversion_lift_abs is not null
            union all
            select
                campaign_id,
                'revenue per member',
                revenue_per_member_treatment,
                revenue_per_member_control,
                revenue_lift_abs,
                revenue_lift_ci_low,
                revenue_lift_ci_high,
                revenue_p_value
            from latest
            where revenue_lift_abs is not null
            order by campaign_id, metric
            """
        ),
        "marts.campaign_lift",
    )
    # Conversion lift (~0.02) and revenue lift (~2) differ by two orders of magnitude: one
    # x axis each, so neither interval is squashed to a dot.
    metrics = ("conversion rate", "revenue per member")
    figure = make_subplots(rows=1, cols=2, subplot_titles=metrics, horizontal_spacing=0.14)
    for column, metric in enumerate(metrics, start=1):
        rows = frame[frame["metric"] == metric]
        if rows.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=rows["absolute_lift"],
                y=rows["campaign_id"].astype(str),
                mode="markers",
                marker={"size": 10, "color": "#4c78a8"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["ci_high"] - rows["absolute_lift"]).tolist(),
                    "arrayminus": (rows["absolute_lift"] - rows["ci_low"]).tolist(),
                },
                customdata=rows[["treatment_value", "control_value", "p_value"]],
                hovertemplate="%{y}: lift %{x:.4f}<br>treatment %{customdata[0]:.4f}, "
                "control %{customdata[1]:.4f}<br>p = %{customdata[2]:.4f}<extra></extra>",
                name=metric,
            ),
            row=1,
            col=column,
        )
        figure.add_vline(x=0, line_dash="dot", line_color="#888", row=1, col=column)
    campaigns = frame["campaign_id"].nunique()
    _layout(figure, 160 + 40 * campaigns, showlegend=False)
    figure.update_xaxes(title_text="absolute lift (treatment - control)")
    figure.update_yaxes(type="category", autorange="reversed")
    return Result(figure, frame, frame)
