"""Consents, campaign events (with a randomised control group) and erasure requests."""

from __future__ import annotations

from segwarehouse.generator import dirt
from segwarehouse.generator.params import SECONDS_PER_DAY, Params, Salt
from segwarehouse.generator.sqlkit import normal, pick, sql_list, unif

CONSENT_COLUMNS: tuple[str, ...] = ("customer_id", "email", "channel", "status", "recorded_at")
CONSENT_ORDER_BY = "rec_sec, gk, seq"
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "customer_id",
    "email",
    "channel",
    "event_type",
    "variant",
    "event_ts",
    "revenue",
)
CAMPAIGN_ORDER_BY = "c, p, step"
ERASURE_COLUMNS: tuple[str, ...] = ("customer_id", "email", "requested_at")
ERASURE_ORDER_BY = "req_sec, p"

CONSENT_CHANNELS = ("email", "sms", "ads", "push")
CONSENT_GRANT_RATES = (0.6, 0.2, 0.35, 0.15)
CONSENT_REVOKE_RATE = 0.15

TARGET_SHARE = 0.2
CONTROL_SHARE = 0.1
P_DELIVERED, P_OPENED, P_CLICKED, P_UNSUBSCRIBED = 0.95, 0.35, 0.25, 0.01
BASELINE_CONVERSION = 0.02
CLICK_CONVERSION = 0.26  # treatment conversion ~ 0.02 + 2 percentage points overall
CAMPAIGN_STEPS = ("sent", "delivered", "opened", "clicked", "converted", "unsubscribed")
CAMPAIGN_CHANNELS = ("email", "email", "email", "sms", "push")

ERASURE_SHARE = 0.002


def treatment_conversion_rate() -> float:
    """Expected conversion rate of the treatment group implied by the funnel parameters."""
    p_click = P_DELIVERED * P_OPENED * P_CLICKED
    return p_click * CLICK_CONVERSION + (1.0 - p_click) * BASELINE_CONVERSION


def consents_output_sql(params: Params) -> str:
    """SELECT for consents: grants at signup on some channels, ~15% later revoked."""
    rates = sql_list(int(r * 1_000_000) for r in CONSENT_GRANT_RATES)
    channels = sql_list(CONSENT_CHANNELS)
    return f"""
WITH g AS (
  SELECT pr.p, pr.email, pr.created_sec, c.ch, pr.p * 8 + c.ch AS gk
  FROM persons pr CROSS JOIN range(4) c(ch)
  WHERE {unif("pr.p * 8 + c.ch", Salt.CONSENT, 0)} * 1000000 < ({rates})[c.ch + 1]
),
d AS (
  SELECT *,
    {unif("gk", Salt.CONSENT, 1)} < {CONSENT_REVOKE_RATE} AS revoked,
    {unif("gk", Salt.CONSENT_KEY, 0)} AS r_key,
    {unif("gk", Salt.CONSENT_KEY, 1)} AS r_variant,
    created_sec + floor({unif("gk", Salt.CONSENT_TIME, 0)} * 120)::BIGINT AS grant_sec,
    {unif("gk", Salt.CONSENT_TIME, 1)} AS r_revoke
  FROM g
),
s AS (
  SELECT *, unnest(CASE WHEN revoked THEN [0, 1] ELSE [0] END) AS seq FROM d
),
r AS (
  SELECT *,
    CASE WHEN seq = 0 THEN grant_sec
         ELSE grant_sec + 1 + floor(r_revoke * ({params.end_sec} - 2 - grant_sec))::BIGINT
    END AS rec_sec,
    {unif("gk * 2 + seq", Salt.CONSENT_DIRT, 0)} AS r_dirt,
    {unif("gk * 2 + seq", Salt.CONSENT_DIRT, 1)} AS r_kind
  FROM s
),
y AS (SELECT *, {dirt.defect_case("r_dirt", dirt.CONSENT_DEFECTS)} AS rd FROM r)
SELECT
  CASE WHEN r_key < 0.85 THEN cust_id(p * 4) END AS customer_id,
  CASE WHEN r_key < 0.85 THEN NULL
       WHEN r_variant < 0.25 THEN email_variant(email, r_variant * 4)
       ELSE email END AS email,
  CASE WHEN rd = 'unknown_channel' THEN {pick("getvariable('bad_channels')", "r_kind")}
       ELSE ({channels})[ch + 1] END AS channel,
  CASE WHEN seq = 0 THEN 'granted' ELSE 'revoked' END AS status,
  fmt_ts(rec_sec) AS recorded_at,
  rd, rec_sec, gk, seq
FROM y
"""


def campaign_schedule(params: Params) -> tuple[list[int], list[str]]:
    """Launch day (epoch day) and channel of every campaign, spread over the last year."""
    n = params.n_campaigns
    days = [params.day_end - 365 + 5 + (c * 345) // n for c in range(n)]
    channels = [CAMPAIGN_CHANNELS[(c * 7 + params.seed) % len(CAMPAIGN_CHANNELS)] for c in range(n)]
    return days, channels


def _campaign_core(params: Params) -> str:
    """Numeric part of the campaign events (targets x funnel steps), shared by COPY and counts."""
    n = params.n_campaigns
    days, _ = campaign_schedule(params)
    launch = f"({sql_list(days)})[c + 1] * {SECONDS_PER_DAY}"
    step_flags = (
        "CASE step WHEN 0 THEN true WHEN 1 THEN delivered WHEN 2 THEN opened "
        "WHEN 3 THEN clicked WHEN 4 THEN converted ELSE unsubscribed END"
    )
    return f"""
t AS (
  SELECT p, c, p * 64 + c AS tk
  FROM range({params.customers}) a(p) CROSS JOIN range({n}) b(c)
  WHERE {unif("p * 64 + c", Salt.CAMPAIGN_TARGET)} < {TARGET_SHARE}
),
f AS (
  SELECT *,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 0)} < {CONTROL_SHARE} AS control,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 1)} AS r_del,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 2)} AS r_open,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 3)} AS r_click,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 4)} AS r_conv,
    {unif("tk", Salt.CAMPAIGN_FUNNEL, 5)} AS r_unsub
  FROM t
),
g AS (
  SELECT *,
    NOT control AND r_del < {P_DELIVERED} AS delivered,
    NOT control AND r_del < {P_DELIVERED} AND r_open < {P_OPENED} AS opened,
    NOT control AND r_del < {P_DELIVERED} AND r_open < {P_OPENED}
      AND r_click < {P_CLICKED} AS clicked,
    NOT control AND r_del < {P_DELIVERED} AND r_unsub < {P_UNSUBSCRIBED} AS unsubscribed
  FROM f
),
h AS (
  SELECT *,
    CASE WHEN clicked THEN r_conv < {CLICK_CONVERSION}
         ELSE r_conv < {BASELINE_CONVERSION} END AS converted,
    {launch} + floor({unif("tk", Salt.CAMPAIGN_TIME, 0)} * 21600)::BIGINT AS sent_sec
  FROM g
),
i AS (
  SELECT *,
    sent_sec + 5 + floor({unif("tk", Salt.CAMPAIGN_TIME, 1)} * 295)::BIGINT AS delivered_sec
  FROM h
),
j AS (
  SELECT *,
    delivered_sec + 60 + floor({unif("tk", Salt.CAMPAIGN_TIME, 2)} * 172800)::BIGINT
      AS opened_sec
  FROM i
),
s AS (
  SELECT j.*, st.step, tk * 8 + st.step AS ek
  FROM j CROSS JOIN range(6) st(step)
  WHERE {step_flags}
),
e AS (
  SELECT *,
    CASE step WHEN 0 THEN sent_sec WHEN 1 THEN delivered_sec WHEN 2 THEN opened_sec
      WHEN 3 THEN opened_sec + 10 + floor({unif("tk", Salt.CAMPAIGN_TIME, 3)} * 590)::BIGINT
      WHEN 4 THEN (CASE WHEN clicked
          THEN opened_sec + 700 + floor({unif("tk", Salt.CAMPAIGN_TIME, 4)} * 259200)::BIGINT
          ELSE sent_sec + 600 + floor({unif("tk", Salt.CAMPAIGN_TIME, 4)} * 604800)::BIGINT END)
      ELSE (CASE WHEN opened THEN opened_sec ELSE delivered_sec END) + 30
           + floor({unif("tk", Salt.CAMPAIGN_TIME, 5)} * 86400)::BIGINT END AS ev_sec,
    {unif("ek", Salt.CAMPAIGN_DIRT, 0)} AS r_dirt,
    {unif("ek", Salt.CAMPAIGN_DIRT, 1)} AS r_kind
  FROM s
),
y AS (SELECT *, {dirt.defect_case("r_dirt", dirt.CAMPAIGN_EVENT_DEFECTS)} AS rd FROM e)"""


def campaign_events_output_sql(params: Params) -> str:
    """SELECT for campaign_events."""
    _, channels = campaign_schedule(params)
    steps = sql_list(CAMPAIGN_STEPS)
    revenue = f"floor(exp(ln(6500) + 0.6 * {normal('tk', Salt.CAMPAIGN_FUNNEL, 10)}))::BIGINT"
    return f"""
WITH {_campaign_core(params)}
SELECT
  'CMP-' || lpad((c + 1)::VARCHAR, 3, '0') AS campaign_id,
  CASE WHEN {unif("tk", Salt.CAMPAIGN_KEY)} < 0.1 THEN NULL ELSE cust_id(y.p * 4) END
    AS customer_id,
  pr.email,
  ({sql_list(channels)})[c + 1] AS channel,
  CASE WHEN rd = 'unknown_event_type' THEN {pick("getvariable('bad_campaign_types')", "r_kind")}
       ELSE ({steps})[step + 1] END AS event_type,
  CASE WHEN control THEN 'control' ELSE 'treatment' END AS variant,
  fmt_ts(ev_sec) AS event_ts,
  CASE WHEN step = 4 THEN fmt_cents({revenue}) END AS revenue,
  rd, c, y.p, step
FROM y JOIN persons pr ON pr.p = y.p
"""


def campaign_counts_sql(params: Params) -> str:
    """Defect counts of campaign_events without rendering strings."""
    return f"WITH {_campaign_core(params)} SELECT rd, count(*) AS n FROM y GROUP BY rd"


def erasure_output_sql(params: Params) -> str:
    """SELECT for erasure_requests (~0.2% of persons, at least one)."""
    forced = f"floor({unif('0', Salt.ERASURE, 5)} * {params.customers})::BIGINT"
    last_180 = params.end_sec - 180 * SECONDS_PER_DAY
    return f"""
WITH e AS (
  SELECT p, email, created_sec,
    {unif("p", Salt.ERASURE, 1)} AS r_key,
    {unif("p", Salt.ERASURE, 2)} AS r_time,
    least(greatest(created_sec + 3600, {last_180}), {params.end_sec} - 2) AS lo
  FROM persons
  WHERE {unif("p", Salt.ERASURE, 0)} < {ERASURE_SHARE} OR p = {forced}
)
SELECT
  CASE WHEN r_key < 0.7 THEN cust_id(p * 4) END AS customer_id,
  CASE WHEN r_key < 0.7 THEN NULL ELSE email END AS email,
  fmt_ts(lo + floor(r_time * ({params.end_sec} - 1 - lo))::BIGINT) AS requested_at,
  NULL::VARCHAR AS rd,
  lo + floor(r_time * ({params.end_sec} - 1 - lo))::BIGINT AS req_sec, p
FROM e
"""
