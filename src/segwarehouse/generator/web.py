"""Web sessions (per order, per person, per anonymous visitor) and their click-stream events."""

from __future__ import annotations

from segwarehouse.generator import dirt
from segwarehouse.generator.commerce import popular_product_sql
from segwarehouse.generator.params import SECONDS_PER_DAY, Params, Salt
from segwarehouse.generator.sqlkit import choice, pick, seasonal_day, unif

WEB_EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "anonymous_id",
    "customer_id",
    "email",
    "session_id",
    "event_type",
    "event_ts",
    "page_url",
    "product_id",
    "device_type",
    "traffic_source",
)
# The file's order is (snum, k, copy_no). It is written without an ORDER BY: `sessions` is
# stored in snum order and each session expands in place (unnest keeps k and copy_no in
# order; preserve_insertion_order holds through the projections). Sorting the events instead
# spilled more than 38 GB at 5M customers, before a row was written, to get an order that
# sorting the session table (a fraction of the rows, narrower) gives.
WEB_EVENT_ORDER_BY = None
MAX_SESSIONS_PER_PERSON = 256
CART_ABANDONMENT = 0.7
COUNTRY_WEIGHTS = [0.60, 0.12, 0.08, 0.06, 0.04, 0.05, 0.05]


def _slot_choice(u_main: str, u_pos: str) -> str:
    """Customer slot used by an identified session: mostly the main record."""
    pos = f"floor({u_pos} * (n_ids + hard::INTEGER))::BIGINT"
    return f"(CASE WHEN {u_main} < 0.8 THEN 0 WHEN {pos} < n_ids THEN {pos} ELSE 3 END)"


def sessions_raw_sql(params: Params) -> str:
    """CREATE TABLE sess_raw: session skeletons (type, owner, anchor time, cookie, identity)."""
    cap = MAX_SESSIONS_PER_PERSON
    n = params.customers
    browse_day = seasonal_day("sk", Salt.SESSION_DAY, "act_day", str(params.day_end))
    visitor_day = seasonal_day("sk", Salt.SESSION_DAY, "vact", str(params.day_end))
    tod = f"(25200 + floor({unif('sk', Salt.SESSION_TIME)} * 61200)::BIGINT)"
    countries = [(str(i), w) for i, w in enumerate(COUNTRY_WEIGHTS)]
    return f"""
CREATE TABLE sess_raw AS
WITH purchase AS (
  SELECT 2 * b.ok AS sk, b.p, 'purchase' AS stype, b.country_idx, b.sec AS anchor_sec,
    b.mode IN (0, 2) AS login, false AS signup,
    CASE WHEN b.mode = 0 THEN b.p * 4 + b.slot ELSE b.p * 4 END AS ck,
    CASE WHEN b.mode = 1 THEN b.email_out ELSE pr.email END AS guest_email,
    coalesce(b.cookie_key, b.p * 4
      + floor({unif("b.ok", Salt.SESSION_COOKIE)} * pr.n_cookies)::BIGINT) AS cookie_key,
    b.channel = 'mobile_app' AS app
  FROM orders_base b JOIN persons pr USING (p)
  WHERE b.tracked
),
browse_keys AS (
  SELECT *, 2 * (p * {cap} + j) + 1 AS sk
  FROM (SELECT p, country_idx, act_day, created_sec, n_ids, hard, n_cookies, email,
          unnest(range(n_browse)) AS j FROM persons)
),
browse_draws AS (
  SELECT *,
    {unif("sk", Salt.SESSION_LOGIN)} AS r_login,
    {unif("sk", Salt.SESSION_SLOT, 0)} AS r_slot0,
    {unif("sk", Salt.SESSION_SLOT, 1)} AS r_slot1,
    {unif("sk", Salt.SESSION_COOKIE, 0)} AS r_cookie0,
    {unif("sk", Salt.SESSION_COOKIE, 1)} AS r_cookie1
  FROM browse_keys
),
browse AS (
  SELECT sk, p, 'browse' AS stype, country_idx,
    CASE WHEN j = 0 THEN created_sec ELSE {browse_day} * {SECONDS_PER_DAY} + {tod} END
      AS anchor_sec,
    j > 0 AND r_login < 0.35 AS login, j = 0 AS signup,
    p * 4 + CASE WHEN j = 0 THEN 0 ELSE {_slot_choice("r_slot0", "r_slot1")} END AS ck,
    email AS guest_email,
    CASE WHEN j > 0 AND r_cookie0 < 0.01 THEN -(1 + floor(r_cookie1 * 5)::BIGINT)
         ELSE p * 4 + floor(r_cookie1 * n_cookies)::BIGINT END AS cookie_key,
    false AS app
  FROM browse_draws
),
visitor_people AS (
  SELECT {n} + v AS vp,
    {params.day0} + floor({unif("v", Salt.VISITOR, 1)} * {params.n_days})::BIGINT AS vact,
    {choice(unif("v", Salt.VISITOR, 2), countries)} AS country_idx,
    1 + floor({unif("v", Salt.VISITOR, 0)} * 3)::BIGINT AS n_sessions
  FROM range({params.n_visitors}) t(v)
),
visitor_keys AS (
  SELECT *, 2 * (vp * {cap} + j) + 1 AS sk
  FROM (SELECT *, unnest(range(n_sessions)) AS j FROM visitor_people)
),
visitor AS (
  SELECT sk, NULL::BIGINT AS p, 'visitor' AS stype, country_idx,
    {visitor_day} * {SECONDS_PER_DAY} + {tod} AS anchor_sec,
    false AS login, false AS signup, NULL::BIGINT AS ck, NULL::VARCHAR AS guest_email,
    vp * 4 AS cookie_key, false AS app
  FROM visitor_keys
)
SELECT * FROM purchase
UNION ALL SELECT * FROM browse
UNION ALL SELECT * FROM visitor
"""


def cart_probability(n_purchase_sessions: int, n_other_sessions: int) -> float:
    """Share of non-purchase sessions with a cart so that ~70% of carts are abandoned."""
    if n_other_sessions == 0:
        return 0.0
    ratio = CART_ABANDONMENT / (1.0 - CART_ABANDONMENT)
    return min(0.95, ratio * n_purchase_sessions / n_other_sessions)


def sessions_sql(params: Params, cart_prob: float) -> str:
    """CREATE TABLE sessions: lengths, cart flags, start times and rendered identifiers."""
    device = choice("r_dev", [("'desktop'", 0.5), ("'mobile'", 0.4), ("'tablet'", 0.1)])
    source = choice(
        "r_src",
        [
            ("'organic'", 0.3),
            ("'paid_search'", 0.2),
            ("'email'", 0.15),
            ("'social'", 0.15),
            ("'direct'", 0.2),
        ],
    )
    perm = params.session_perm
    width = len(str(perm.mod)) - 1
    min_len = (
        "CASE WHEN cart THEN 2 + (login OR signup)::INTEGER + chk::INTEGER "
        "WHEN login OR signup THEN 2 ELSE 1 END"
    )
    return f"""
CREATE TABLE sessions AS
WITH d AS (
  SELECT *,
    {unif("sk", Salt.SESSION_LEN)} AS r_len,
    {unif("sk", Salt.SESSION_CART, 0)} AS r_cart,
    {unif("sk", Salt.SESSION_CART, 1)} AS r_chk,
    {unif("sk", Salt.SESSION_TIME, 1)} AS r_gap,
    {unif("sk", Salt.SESSION_DEVICE)} AS r_dev,
    {unif("sk", Salt.SESSION_SOURCE)} AS r_src,
    {unif("sk", Salt.EVENT_TZ, 0)} AS r_off
  FROM sess_raw
),
s AS (
  SELECT *,
    stype <> 'purchase' AND r_cart < {cart_prob!r} AS cart,
    stype = 'browse' AND r_cart < {cart_prob!r} AND r_chk < 0.2 AS chk,
    15 + floor(r_gap * 90)::BIGINT AS gap
  FROM d
),
l AS (
  SELECT *,
    (CASE WHEN stype = 'purchase' THEN 5 + floor(15 * pow(r_len, 3))
          ELSE greatest(1 + floor(19 * pow(r_len, 4)), {min_len}) END)::BIGINT AS n_events
  FROM s
)
SELECT sk, p, stype, login, signup, cart, chk, n_events, gap, cookie_key,
  CASE WHEN stype = 'purchase' THEN anchor_sec - (n_events - 1) * gap
       ELSE least(anchor_sec, {params.end_sec} - 1 - n_events * gap) END AS start_sec,
  {perm.sql("sk")} AS snum,
  'S' || lpad({perm.sql("sk")}::VARCHAR, {width}, '0') AS session_id,
  cookie_id(cookie_key) AS anonymous_id,
  CASE WHEN login OR signup THEN cust_id(ck) END AS customer_id,
  CASE WHEN signup OR (NOT login AND (stype = 'purchase' OR chk)) THEN guest_email END AS email,
  CASE WHEN app THEN 'mobile' ELSE {device} END AS device_type,
  {source} AS traffic_source,
  {pick("getvariable('country_offsets')[country_idx + 1]", "r_off")} AS tz_off
FROM l
ORDER BY snum
"""


def _event_type() -> str:
    """True event type from the session type and the event position."""
    in_cart = choice(
        "r_mid",
        [
            ("'product_view'", 0.55),
            ("'page_view'", 0.17),
            ("'search'", 0.12),
            ("'add_to_cart'", 0.11),
            ("'remove_from_cart'", 0.05),
        ],
    )
    browsing = choice("r_mid", [("'product_view'", 0.55), ("'page_view'", 0.25), ("'search'", 0.2)])
    return f"""CASE
      WHEN stype = 'purchase' AND k = n_events - 1 THEN 'purchase'
      WHEN stype = 'purchase' AND k = n_events - 2 THEN 'checkout_start'
      WHEN stype = 'purchase' AND k = n_events - 3 THEN 'add_to_cart'
      WHEN cart AND k = n_events - 1 THEN (CASE WHEN chk THEN 'checkout_start'
                                                ELSE 'add_to_cart' END)
      WHEN cart AND chk AND k = n_events - 2 THEN 'add_to_cart'
      WHEN k = 1 AND signup THEN 'signup'
      WHEN k = 1 AND login THEN 'login'
      WHEN k = 0 THEN 'page_view'
      WHEN stype = 'purchase' OR cart THEN {in_cart}
      ELSE {browsing} END"""


def _page_url() -> str:
    """Page URL for the (true) event type."""
    base = "'https://shop.example.com'"
    category = pick("getvariable('category_slugs')", "r_prod")
    term = pick("getvariable('search_terms')", "r_prod")
    return f"""{base} || CASE et
      WHEN 'page_view' THEN (CASE WHEN r_page < 0.3 THEN '/'
                                  WHEN r_page < 0.85 THEN '/category/' || {category}
                                  ELSE '/deals' END)
      WHEN 'product_view' THEN '/product/' || product_id
      WHEN 'add_to_cart' THEN '/product/' || product_id
      WHEN 'remove_from_cart' THEN '/cart'
      WHEN 'search' THEN '/search?q=' || {term}
      WHEN 'login' THEN '/account/login'
      WHEN 'signup' THEN '/account/signup'
      WHEN 'checkout_start' THEN '/checkout'
      ELSE '/checkout/confirmation' END"""


def web_events_output_sql(params: Params) -> str:
    """SELECT for web_events: expands sessions into events, adds duplicates and defects."""
    future = (
        f"fmt_ts({params.end_sec} + (29 + floor(r_kind * 371)::BIGINT) * "
        f"{SECONDS_PER_DAY} + ts % {SECONDS_PER_DAY})"
    )
    product = f"product_code({popular_product_sql(params, 'r_prod')})"
    return f"""
WITH e AS (
  SELECT *, sk * 32 + k AS ek FROM (SELECT *, unnest(range(n_events)) AS k FROM sessions)
),
r AS (
  SELECT *,
    {unif("ek", Salt.EVENT, 0)} AS r_mid,
    {unif("ek", Salt.EVENT, 1)} AS r_jit,
    {unif("ek", Salt.EVENT_PRODUCT, 0)} AS r_prod,
    {unif("ek", Salt.EVENT_PRODUCT, 1)} AS r_page,
    {unif("ek", Salt.EVENT_TZ, 1)} AS r_tz,
    {unif("ek", Salt.EVENT_DIRT, 0)} AS r_dirt,
    {unif("ek", Salt.EVENT_DIRT, 1)} AS r_kind
  FROM e
),
t AS (
  SELECT *,
    {_event_type()} AS et,
    {dirt.defect_case("r_dirt", dirt.WEB_EVENT_DEFECTS)} AS defect,
    start_sec + k * gap + CASE WHEN stype = 'purchase' AND k = n_events - 1 THEN 0
                               ELSE floor(r_jit * gap)::BIGINT END AS ts
  FROM r
),
x AS (
  SELECT *,
    CASE WHEN et IN ('product_view', 'add_to_cart', 'remove_from_cart') THEN {product}
         END AS product_id,
    unnest(CASE WHEN defect = 'exact_duplicate_row' THEN [0, 1] ELSE [0] END) AS copy_no
  FROM t
),
y AS (
  SELECT *,
    CASE WHEN copy_no = 1 THEN defect WHEN defect = 'exact_duplicate_row' THEN NULL
         ELSE defect END AS rd
  FROM x
)
SELECT
  session_id || '-' || lpad(k::VARCHAR, 2, '0') AS event_id,
  anonymous_id,
  CASE WHEN (login OR signup) AND k >= 1 THEN customer_id END AS customer_id,
  CASE WHEN et = 'signup' OR (et IN ('checkout_start', 'purchase') AND NOT login)
       THEN email END AS email,
  session_id,
  CASE WHEN rd = 'unknown_event_type' THEN {pick("getvariable('bad_web_types')", "r_kind")}
       ELSE et END AS event_type,
  CASE WHEN rd = 'future_event_ts' THEN {future}
       WHEN r_tz < 0.03 THEN fmt_ts_offset(ts, tz_off)
       ELSE fmt_ts(ts) END AS event_ts,
  {_page_url()} AS page_url,
  product_id,
  device_type,
  traffic_source,
  rd, snum, k, copy_no
FROM y
"""
