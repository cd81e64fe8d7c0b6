"""First page, holdout experiments: marts.experiment_results, one row per experiment.

Per experiment and metric (conversion rate, revenue per member; treatment minus control): the
difference, its false-coverage-rate adjusted interval, the raw and Benjamini-Hochberg adjusted
p-values and the BH decision (`is_<metric>_significant_adjusted`). The adjusted interval is
the one that excludes 0 exactly when the BH decision is significant (docs/experiments.md), so
the error bars and the reported decision cannot disagree. A result that is not significant
while its minimum detectable effect exceeds the smallest effect worth detecting is labelled
"inconclusive: too small".

The table is rendered here, server-side, with every figure also in data-* attributes (full
precision); the page's JavaScript draws the two plots from the same frame.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from segwarehouse.dashboard.source import Warehouse

EXPERIMENT_TABLES = ("marts.experiment_results",)
METRICS = ("conversion", "revenue")
# The smallest effects worth detecting, as the dbt vars experiments__min_detectable_effect_*
# (dbt_project.yml; test_dashboard keeps them equal): the serving file does not carry vars.
WORTH_DETECTING = {"conversion": 0.01, "revenue": 1.0}
SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
INCONCLUSIVE = "inconclusive: too small"
NOT_MEASURED = "not measured yet"
NO_TEST = "no test"

_COLUMNS = [
    "experiment_id",
    "segment_id",
    "members_treatment",
    "members_control",
    "members_pending",
    *[
        f"{metric}_{suffix}"
        for metric in METRICS
        for suffix in (
            "lift_abs",
            "ci_adjusted_low",
            "ci_adjusted_high",
            "p_value",
            "p_value_adjusted",
            "test",
            "min_detectable_effect",
        )
    ],
    "is_conversion_significant_adjusted",
    "is_revenue_significant_adjusted",
    "alpha",
    "as_of_date",
]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def verdict(row: Mapping[str, object], metric: str) -> str:
    """What the row says about one metric, in words (one of the module's labels)."""
    if not row["members_treatment"] or not row["members_control"]:
        return NOT_MEASURED
    if _missing(row[f"{metric}_p_value_adjusted"]):
        return NO_TEST
    if row[f"is_{metric}_significant_adjusted"]:
        return SIGNIFICANT
    detectable = row[f"{metric}_min_detectable_effect"]
    if not _missing(detectable) and float(detectable) > WORTH_DETECTING[metric]:  # type: ignore[arg-type]
        return INCONCLUSIVE
    return NOT_SIGNIFICANT


def experiment_results(warehouse: Warehouse) -> pd.DataFrame:
    """The latest run's rows of marts.experiment_results with a verdict per metric."""
    frame = warehouse.frame(
        f"select {', '.join(_COLUMNS)} from marts.experiment_results "
        "where as_of_date = (select max(as_of_date) from marts.experiment_results) "
        "order by experiment_id"
    )
    for metric in METRICS:
        frame[f"{metric}_verdict"] = [verdict(row, metric) for row in frame.to_dict("records")]
    return frame


# --- the section's HTML ---------------------------------------------------------------------------

SECTION = """<section class="panel wide" id="holdout_experiments">
<h2>Holdout experiments</h2>
<p class="description">The warehouse's own holdouts (marts.experiment_results): treatment minus
control per experiment, members with an observed outcome window. Conversion rate in percentage
points (left) and revenue per member (right), on separate axes. Error bars are the intervals
adjusted for testing every experiment of the run (Benjamini&ndash;Yekutieli false coverage
rate): an interval excludes 0 exactly when the Benjamini&ndash;Hochberg adjusted p-value is at
most &alpha;, which is the decision shown. <b>Inconclusive: too small</b> means not significant
while the arms are too small to detect the smallest effect worth detecting (the minimum
detectable effect is larger); it is not evidence of no effect. Experiments target one segment
each: the segment filter does not apply.</p>
<div class="pair"><div class="plot" id="plot-holdouts-conversion"></div>
<div class="plot" id="plot-holdouts-revenue"></div></div>
{table}
</section>"""

_SCALE = {"conversion": 100.0, "revenue": 1.0}
_UNIT = {"conversion": " pp", "revenue": ""}


def _attr(value: object) -> str:
    return "" if _missing(value) else repr(float(value))  # type: ignore[arg-type]


def _signed(value: object, metric: str) -> str:
    return "\u2013" if _missing(value) else f"{_SCALE[metric] * float(value):+.2f}"  # type: ignore[arg-type]


def _cells(row: Mapping[str, object], metric: str) -> str:
    label = str(row[f"{metric}_verdict"])
    attrs = " ".join(
        f'data-{metric}-{name}="{_attr(row[column])}"'
        for name, column in (
            ("lift", f"{metric}_lift_abs"),
            ("low", f"{metric}_ci_adjusted_low"),
            ("high", f"{metric}_ci_adjusted_high"),
            ("p", f"{metric}_p_value"),
            ("p-adjusted", f"{metric}_p_value_adjusted"),
            ("mde", f"{metric}_min_detectable_effect"),
        )
    )
    interval = (
        ""
        if _missing(row[f"{metric}_ci_adjusted_low"])
        else f" [{_signed(row[f'{metric}_ci_adjusted_low'], metric)}, "
        f"{_signed(row[f'{metric}_ci_adjusted_high'], metric)}]"
    )
    p_value, adjusted = row[f"{metric}_p_value"], row[f"{metric}_p_value_adjusted"]
    p_text = "\u2013" if _missing(p_value) else f"{float(p_value):.3g} / BH {float(adjusted):.3g}"  # type: ignore[arg-type]
    detail = ""
    if label == INCONCLUSIVE:
        mde = _SCALE[metric] * float(row[f"{metric}_min_detectable_effect"])  # type: ignore[arg-type]
        worth = _SCALE[metric] * WORTH_DETECTING[metric]
        detail = f" (detects {mde:.2f}{_UNIT[metric]} or more; worth detecting {worth:.2f})"
    lift = row[f"{metric}_lift_abs"]
    unit = "" if _missing(lift) else _UNIT[metric]
    return (
        f'<td class="num" {attrs}>{_signed(lift, metric)}{unit}{interval}</td>'
        f"<td>{p_text}</td>"
        f'<td data-{metric}-decision="{html.escape(label)}">{html.escape(label + detail)}</td>'
    )


def experiment_table(frame: pd.DataFrame | None) -> str:
    """The section's table (empty string when the mart is absent or failed)."""
    if frame is None:
        return ""
    if frame.empty:
        return '<div class="empty">no experiment has members yet</div>'
    body = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        members = (
            f"{row['members_treatment']:,} / {row['members_control']:,}"
            f" ({row['members_pending']:,} pending)"
        )
        body.append(
            f'<tr data-experiment="{html.escape(str(row["experiment_id"]))}">'
            f"<td>{html.escape(str(row['experiment_id']))}<br><small>"
            f"{html.escape(str(row['segment_id'] or ''))}</small></td><td>{members}</td>"
            + "".join(_cells(row, metric) for metric in METRICS)
            + "</tr>"
        )
    head = (
        "<tr><th>experiment<br><small>segment</small></th><th>members treatment / control</th>"
        "<th>conversion rate difference [interval]</th><th>p / BH-adjusted p</th>"
        "<th>conversion</th><th>revenue per member difference [interval]</th>"
        "<th>p / BH-adjusted p</th><th>revenue</th></tr>"
    )
    return (
        f'<table class="data" id="holdout-table"><thead>{head}</thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


SCRIPT = r"""
function holdoutPlot(id, data, metric, title, scale) {
  const shown = data.filter((r) => r[metric + '_ci_adjusted_low'] !== null);
  if (!shown.length) return none(id, 'no experiment has a ' + metric + ' test yet');
  clearMessage(id);
  const colour = {'significant': '#2e7d32', 'inconclusive: too small': '#9e9e9e'};
  Plotly.react(id, [{type: 'scatter', mode: 'markers', name: title,
    x: shown.map((r) => scale * r[metric + '_lift_abs']), y: shown.map((r) => r.experiment_id),
    marker: {size: 10, color: shown.map((r) => colour[r[metric + '_verdict']] || '#4c78a8')},
    customdata: shown.map((r) => [r[metric + '_p_value'], r[metric + '_p_value_adjusted'],
                                  r[metric + '_verdict']]),
    error_x: {type: 'data', symmetric: false,
              array: shown.map((r) => scale * (r[metric + '_ci_adjusted_high']
                                               - r[metric + '_lift_abs'])),
              arrayminus: shown.map((r) => scale * (r[metric + '_lift_abs']
                                                    - r[metric + '_ci_adjusted_low']))},
    hovertemplate: '%{y}: %{x:.2f}<br>p %{customdata[0]:.3g}, BH %{customdata[1]:.3g}'
      + '<br>%{customdata[2]}<extra></extra>'}],
    Object.assign({}, LAYOUT, {height: 140 + 40 * shown.length, showlegend: false,
      xaxis: {title: {text: title}, zeroline: true, zerolinecolor: '#888'},
      yaxis: {type: 'category', autorange: 'reversed', automargin: true}}), CONFIG);
}

function renderHoldouts() {
  if (missing('holdout_experiments', 'plot-holdouts-conversion')) return;
  const data = rows('holdout_experiments');
  holdoutPlot('plot-holdouts-conversion', data, 'conversion',
              'conversion rate difference (percentage points)', 100);
  holdoutPlot('plot-holdouts-revenue', data, 'revenue', 'revenue per member difference', 1);
}
"""
