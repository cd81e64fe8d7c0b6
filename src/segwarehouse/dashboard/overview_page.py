"""The first page's HTML: the data as JSON, the filters, and the JavaScript that draws it."""

from __future__ import annotations

import html
from pathlib import Path

from segwarehouse.dashboard import overview_experiments as holdouts
from segwarehouse.dashboard.overview import ALL, OverviewData
from segwarehouse.dashboard.page_head import page_head

DETAILS = "details.html"


def render_overview(
    data: OverviewData, warehouse_path: Path, built_at: str, plotly_js: str, css: str
) -> str:
    """The whole first page (plotly.js inlined, nothing fetched)."""
    table = holdouts.experiment_table(data.frames.get("holdout_experiments"))
    return (
        _PAGE.replace("{holdouts}", holdouts.SECTION.replace("{table}", table))
        .replace("{head}", page_head("Customer segments: overview", css + _CSS, plotly_js))
        .replace("{warehouse}", html.escape(str(warehouse_path)))
        .replace("{built_at}", built_at)
        .replace("{details}", DETAILS)
        .replace("{payload}", data.payload())
        .replace(
            "{script}", _SCRIPT.replace("__ALL__", ALL).replace("{holdout_js}", holdouts.SCRIPT)
        )
    )


_CSS = """
.filters { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: end; padding: 12px 24px;
           background: #fff; border-bottom: 1px solid #dde; font-size: 0.9em; }
.filters label { display: flex; flex-direction: column; gap: 3px; color: #555; }
.filters select, .filters input { font-size: 1em; padding: 3px 6px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px;
         padding: 16px 24px 0; }
.tile { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 12px 16px; }
.tile .label { color: #555; font-size: 0.85em; }
.tile .value { font-size: 1.8em; font-weight: 600; margin: 4px 0; }
.tile .change { font-size: 0.85em; color: #666; }
.tile .change.good { color: #2e7d32; }
.tile .change.bad { color: #b00020; }
.status-line a { color: #fff; }
.panel .plot { min-height: 300px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.panel.wide { grid-column: 1 / -1; }
#holdout_experiments .plot { min-height: 0; }  /* plotly sizes it; a message stays short */
"""

_PAGE = """{head}<body>
<header>
<h1>Customer segments</h1>
<p class="status-line">built {built_at} from <code>{warehouse}</code> (read-only) ·
<span id="run-status"></span> · <a href="{details}">Operations and details &rarr;</a></p>
</header>
<nav><a href="index.html"><b>Overview</b></a><a href="{details}">Operations and details</a></nav>
<form class="filters" id="filters" onsubmit="return false">
<label>Segment <select id="filter-segment"></select></label>
<label>From <input type="date" id="filter-from"></label>
<label>To <input type="date" id="filter-to"></label>
<span id="filter-note"></span>
</form>
<div class="tiles" id="kpis"></div>
<main>
<section class="panel" id="revenue_trend">
<h2>Revenue trend</h2>
<p class="description">Completed-order revenue per week (weeks start on Monday), of everyone or
of the segment's current members, within the date filter.</p>
<div class="plot" id="plot-revenue_trend"></div>
</section>
<section class="panel" id="segment_sizes">
<h2>Segment sizes</h2>
<p class="description">Members per segment of one family at every build date within the date
filter (one bar per segment when only one build is in range); the chosen segment is drawn
bold. <label>Family <select id="filter-family"></select></label></p>
<div class="plot" id="plot-segment_sizes"></div>
</section>
<section class="panel" id="audience_funnel">
<h2>Audience funnel</h2>
<p class="description">Audiences built on the segment (all audiences when none is chosen), at
the latest build: segment members, minus the control group held out, minus members without
consent, erased or without contact data, equals the rows exported.</p>
<div class="plot" id="plot-audience_funnel"></div>
</section>
<section class="panel" id="next_best_action">
<h2>Next best action</h2>
<p class="description">Customers per recommended action (the segment's current members when a
segment is chosen), split by whether they consented to the action's channel.</p>
<div class="plot" id="plot-next_best_action"></div>
</section>
<section class="panel" id="experiments">
<h2>Experiment results</h2>
<p class="description">Treatment minus control per campaign, latest build, with the confidence
interval: conversion rate lift in percentage points (left) and revenue per member (right), on
separate axes. Campaigns are not segment-specific: the segment filter does not apply.</p>
<div class="pair"><div class="plot" id="plot-experiments-conversion"></div>
<div class="plot" id="plot-experiments-revenue"></div></div>
</section>
{holdouts}
</main>
<script type="application/json" id="overview-data">{payload}</script>
<script type="text/javascript">{script}</script>
</body>
</html>
"""

_SCRIPT = r"""
(function () {
const D = JSON.parse(document.getElementById('overview-data').textContent);
const ALL = '__ALL__';
const CONFIG = {displaylogo: false, responsive: true};
const LAYOUT = {template: 'plotly_white', margin: {l: 60, r: 20, t: 20, b: 50}, height: 340,
                legend: {orientation: 'h', y: -0.2}};
const $ = (id) => document.getElementById(id);
const rows = (key) => D[key] || [];
const number = (v, digits) => v === null || v === undefined || Number.isNaN(v) ? '\u2013'
  : v.toLocaleString('en-US', {maximumFractionDigits: digits || 0,
                                minimumFractionDigits: digits || 0});
const KPIS = [
  {key: 'customers', label: (all) => all ? 'Customers' : 'Members', show: (v) => number(v)},
  {key: 'active_buyers', label: () => 'Active buyers (90 d)', show: (v) => number(v)},
  {key: 'revenue_90d', label: () => 'Revenue (90 d)', show: (v) => number(v)},
  {key: 'mean_clv', label: () => 'Mean CLV', show: (v) => number(v)},
  {key: 'mean_churn_probability', label: () => 'Churn risk (mean probability)',
   show: (v) => v === null ? '\u2013' : number(100 * v, 1) + ' %', lowerIsBetter: true,
   delta: (d) => (d >= 0 ? '+' : '') + number(100 * d, 1) + ' pts'},
];

function missing(key, plotId) {
  const box = document.createElement('div');
  if (D.errors[key]) {
    box.className = 'error-box';
    box.textContent = 'this panel failed: ' + D.errors[key];
  } else if (D.missing[key]) {
    box.className = 'unavailable';
    box.textContent = D.missing[key];
  } else {
    return false;
  }
  if (plotId !== 'kpis') Plotly.purge($(plotId));
  $(plotId).replaceChildren(box);
  return true;
}

function none(plotId, text) {
  Plotly.purge($(plotId));  // the next draw starts a new plot
  $(plotId).innerHTML = '<div class="empty">' + text + '</div>';
}

// Remove a message box left by none() / missing(); never touch a live plot's own elements.
function clearMessage(plotId) {
  $(plotId).querySelectorAll(':scope > .empty, :scope > .unavailable, :scope > .error-box')
    .forEach((box) => box.remove());
}

function state() {
  return {segment: $('filter-segment').value, from: $('filter-from').value,
          to: $('filter-to').value, family: $('filter-family').value};
}

function setUpFilters() {
  const select = $('filter-segment');
  select.add(new Option('All customers', ALL));
  const byFamily = {};
  rows('segments').forEach((s) => (byFamily[s.segment_family] ||= []).push(s));
  Object.keys(byFamily).sort().forEach((family) => {
    const group = document.createElement('optgroup');
    group.label = family;
    byFamily[family].forEach((s) => group.appendChild(
      new Option(s.segment_name && s.segment_name !== s.segment_id
                 ? s.segment_name + ' (' + s.segment_id + ')' : s.segment_id, s.segment_id)));
    select.appendChild(group);
    $('filter-family').add(new Option(family, family));
  });
  if (byFamily.rule) $('filter-family').value = 'rule';
  const dates = rows('revenue_weekly').map((r) => r.week)
    .concat(rows('runs').map((r) => r.as_of_date)).sort();
  if (dates.length) {
    $('filter-from').value = dates[0];
    $('filter-to').value = dates[dates.length - 1];
  }
  select.addEventListener('change', () => {
    const chosen = rows('segments').find((s) => s.segment_id === select.value);
    if (chosen) $('filter-family').value = chosen.segment_family;
    render();
  });
  ['filter-from', 'filter-to', 'filter-family'].forEach(
    (id) => $(id).addEventListener('change', render));
}

function inRange(day, s) {
  return (!s.from || day >= s.from) && (!s.to || day <= s.to);
}

function renderTiles(s) {
  const box = $('kpis');
  box.innerHTML = '';
  if (missing('kpis', 'kpis')) return;
  const history = rows('kpis').filter((r) => r.segment_id === s.segment
                                          && (!s.to || r.as_of_date <= s.to))
    .sort((a, b) => a.as_of_date < b.as_of_date ? -1 : 1);
  const now = history[history.length - 1];
  const before = history[history.length - 2];
  $('filter-note').textContent = now
    ? 'KPIs of the run as of ' + now.as_of_date
      + (before ? ', compared with the run as of ' + before.as_of_date : ' (no earlier run)')
    : 'no run on or before ' + s.to;
  KPIS.forEach((kpi) => {
    const tile = document.createElement('div');
    tile.className = 'tile';
    tile.dataset.kpi = kpi.key;
    const value = now ? now[kpi.key] : null;
    tile.dataset.value = value === null || value === undefined ? '' : String(value);
    let change = 'no previous run';
    let tone = '';
    if (now && before && value !== null && before[kpi.key] !== null) {
      const delta = value - before[kpi.key];
      const share = before[kpi.key] ? ' (' + (delta >= 0 ? '+' : '')
        + number(100 * delta / before[kpi.key], 1) + ' %)' : '';
      change = (kpi.delta ? kpi.delta(delta) : (delta >= 0 ? '+' : '') + number(delta))
        + (kpi.delta ? '' : share) + ' vs ' + before.as_of_date;
      tone = delta === 0 ? '' : ((delta > 0) !== !!kpi.lowerIsBetter ? 'good' : 'bad');
      tile.dataset.previous = String(before[kpi.key]);
    }
    tile.innerHTML = '<div class="label"></div><div class="value"></div>'
      + '<div class="change ' + tone + '"></div>';
    tile.querySelector('.label').textContent = kpi.label(s.segment === ALL);
    tile.querySelector('.value').textContent = kpi.show(value);
    tile.querySelector('.change').textContent = change;
    box.appendChild(tile);
  });
}

function renderRevenue(s) {
  const id = 'plot-revenue_trend';
  if (missing('revenue_weekly', id)) return;
  const data = rows('revenue_weekly').filter((r) => r.segment_id === s.segment
                                              && inRange(r.week, s));
  if (!data.length) return none(id, 'no completed orders in the chosen range');
  clearMessage(id);
  Plotly.react(id, [{type: 'bar', x: data.map((r) => r.week), y: data.map((r) => r.revenue),
    marker: {color: '#4c78a8'}, customdata: data.map((r) => r.orders), name: 'revenue',
    hovertemplate: 'week of %{x|%Y-%m-%d}: %{y:,.0f}<br>%{customdata:,} orders<extra></extra>'}],
    Object.assign({}, LAYOUT, {xaxis: {type: 'date', tickformat: '%Y-%m-%d'},
                               yaxis: {title: {text: 'revenue per week'}}}), CONFIG);
}

function renderSizes(s) {
  const id = 'plot-segment_sizes';
  if (missing('segment_sizes', id)) return;
  const data = rows('segment_sizes').filter((r) => r.segment_family === s.family
                                             && inRange(r.as_of_date, s));
  if (!data.length) return none(id, 'no build of this family in the chosen range');
  clearMessage(id);
  const ids = [...new Set(data.map((r) => r.segment_id))].sort();
  const dates = [...new Set(data.map((r) => r.as_of_date))].sort();
  const colour = (sid) => D.palette[ids.indexOf(sid) % D.palette.length];
  const width = (sid) => s.segment === sid ? 4 : (s.segment === ALL ? 2 : 1);
  let traces;
  let xaxis;
  if (dates.length === 1) {
    traces = [{type: 'bar', x: ids, y: ids.map((sid) => data.find((r) => r.segment_id === sid)
                                                           .members),
      marker: {color: ids.map(colour), line: {width: ids.map((sid) => s.segment === sid ? 3 : 0),
                                               color: '#222'}},
      hovertemplate: '%{x}: %{y:,} members<extra></extra>', name: dates[0]}];
    xaxis = {type: 'category', tickangle: -35, automargin: true};
  } else {
    traces = ids.map((sid) => {
      const line = data.filter((r) => r.segment_id === sid);
      return {type: 'scatter', mode: 'lines+markers', name: sid,
              x: line.map((r) => r.as_of_date), y: line.map((r) => r.members),
              line: {color: colour(sid), width: width(sid)},
              opacity: s.segment === ALL || s.segment === sid ? 1 : 0.45,
              hovertemplate: sid + '<br>%{x|%Y-%m-%d}: %{y:,}<extra></extra>'};
    });
    const span = (Date.parse(dates[dates.length - 1]) - Date.parse(dates[0])) / 864e5;
    xaxis = {type: 'date', tickformat: '%Y-%m-%d', title: {text: 'build date'}};
    if (span <= 14) xaxis.dtick = 864e5;  // never hour ticks
  }
  Plotly.react(id, traces, Object.assign({}, LAYOUT, {height: 400, xaxis: xaxis,
    yaxis: {title: {text: 'members'}}, showlegend: dates.length > 1,
    title: dates.length === 1 ? {text: 'build of ' + dates[0], font: {size: 13}} : undefined,
    margin: {l: 60, r: 20, t: 30, b: 40}}), CONFIG);
}

function renderFunnel(s) {
  const id = 'plot-audience_funnel';
  if (missing('funnel', id)) return;
  const data = rows('funnel').filter((r) => s.segment === ALL || r.segment_id === s.segment);
  if (!data.length) return none(id, 'no audience is built on this segment');
  clearMessage(id);
  const sum = (f) => data.reduce((total, r) => total + f(r), 0);
  const members = sum((r) => r.member_count);
  const treated = members - sum((r) => r.control_count);
  const contactable = treated - sum((r) => r.no_consent_count + r.erased_count
                                          + r.no_contact_count);
  const exported = sum((r) => r.exported_count);
  Plotly.react(id, [{type: 'funnel', y: ['members', 'minus control', 'minus no consent',
                                         'exported'],
    x: [members, treated, contactable, exported], textinfo: 'value+percent initial',
    marker: {color: ['#4c78a8', '#72b7b2', '#eeca3b', '#54a24b']}}],
    Object.assign({}, LAYOUT, {margin: {l: 130, r: 20, t: 20, b: 30}}), CONFIG);
  $(id).dataset.audiences = String(data.length);
}

function renderActions(s) {
  const id = 'plot-next_best_action';
  if (missing('next_best_action', id)) return;
  const data = rows('next_best_action').filter((r) => r.segment_id === s.segment)
    .sort((a, b) => a.customers - b.customers);
  if (!data.length) return none(id, 'no next best action for these customers');
  clearMessage(id);
  const labels = data.map((r) => r.action + ' (' + r.channel + ')');
  Plotly.react(id, [
    {type: 'bar', orientation: 'h', name: 'best match', y: labels,
     x: data.map((r) => r.customers - r.moved_by_consent), marker: {color: '#54a24b'}},
    {type: 'bar', orientation: 'h', name: 'a better match lacked consent', y: labels,
     x: data.map((r) => r.moved_by_consent), marker: {color: '#bab0ac'}}],
    Object.assign({}, LAYOUT, {barmode: 'stack', height: 120 + 26 * data.length,
                               margin: {l: 230, r: 20, t: 20, b: 50},
                               xaxis: {title: {text: 'customers'}}}), CONFIG);
}

function liftPlot(id, data, value, low, high, title, scale, digits) {
  const shown = data.filter((r) => r[value] !== null);
  if (!shown.length) return none(id, 'no campaign has this comparison');
  clearMessage(id);
  Plotly.react(id, [{type: 'scatter', mode: 'markers', name: title,
    x: shown.map((r) => scale * r[value]), y: shown.map((r) => r.campaign_id),
    marker: {size: 10, color: '#4c78a8'},
    error_x: {type: 'data', symmetric: false,
              array: shown.map((r) => scale * (r[high] - r[value])),
              arrayminus: shown.map((r) => scale * (r[value] - r[low]))},
    hovertemplate: '%{y}: %{x:.' + digits + 'f}<extra></extra>'}],
    Object.assign({}, LAYOUT, {height: 140 + 40 * shown.length, showlegend: false,
      xaxis: {title: {text: title}, zeroline: true, zerolinecolor: '#888'},
      yaxis: {type: 'category', autorange: 'reversed'}}), CONFIG);
}

function renderExperiments() {
  if (missing('experiments', 'plot-experiments-conversion')) return;
  const data = rows('experiments');
  if (!data.length) return none('plot-experiments-conversion', 'no campaign results yet');
  liftPlot('plot-experiments-conversion', data, 'conversion_lift_abs',
           'conversion_lift_ci_low', 'conversion_lift_ci_high',
           'conversion lift (percentage points)', 100, 2);
  liftPlot('plot-experiments-revenue', data, 'revenue_lift_abs', 'revenue_lift_ci_low',
           'revenue_lift_ci_high', 'revenue lift per member', 1, 2);
}

{holdout_js}
function render() {
  const s = state();
  renderTiles(s);
  renderRevenue(s);
  renderSizes(s);
  renderFunnel(s);
  renderActions(s);
  document.body.dataset.rendered = s.segment + '|' + s.from + '|' + s.to + '|' + s.family;
}

const last = rows('runs').map((r) => r.as_of_date).sort().pop();
$('run-status').textContent = last ? 'latest run as of ' + last : 'no run recorded';
setUpFilters();
renderExperiments();
renderHoldouts();
render();
})();
"""
