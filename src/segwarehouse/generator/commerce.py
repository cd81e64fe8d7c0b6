"""Products, orders and order lines."""

from __future__ import annotations

from segwarehouse.generator import dirt
from segwarehouse.generator.params import SECONDS_PER_DAY, Params, Perm, Salt
from segwarehouse.generator.sqlkit import choice, normal, pick, seasonal_day, unif

PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "product_name", "category", "brand", "list_price")
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "customer_id",
    "email",
    "loyalty_id",
    "anonymous_id",
    "order_ts",
    "channel",
    "status",
    "currency",
    "order_total",
    "discount_amount",
)
ORDER_ITEM_COLUMNS: tuple[str, ...] = (
    "order_id",
    "line_number",
    "product_id",
    "quantity",
    "unit_price",
)
ORDER_ORDER_BY = "sort_key, copy_no"
ORDER_ITEM_ORDER_BY = "sort_key, line_no, ok, copy_no"

# Order identity modes: 0 customer_id, 1 guest e-mail, 2 loyalty id only, 3 cookie only.
MODES_WITH_LOYALTY = [("0", 0.585), ("1", 0.15), ("2", 0.2), ("3", 0.065)]
MODES_WITHOUT_LOYALTY = [("0", 0.777), ("1", 0.15), ("3", 0.073)]
CHANNELS_BY_MODE = {
    0: [("'web'", 0.55), ("'mobile_app'", 0.30), ("'store'", 0.15)],
    1: [("'web'", 0.80), ("'mobile_app'", 0.10), ("'store'", 0.10)],
    2: [("'store'", 0.70), ("'mobile_app'", 0.30)],
    3: [("'web'", 0.60), ("'mobile_app'", 0.25), ("'store'", 0.15)],
}
TRACKED_WEB_ORDER_SHARE = 0.6
POPULARITY_SKEW = 2.2


def popularity_perm(params: Params) -> Perm:
    """Popularity rank -> product index (so popular products are spread over the catalogue)."""
    return Perm.for_modulus(params.n_products, params.seed, 9)


def popular_product_sql(params: Params, u_expr: str) -> str:
    """Product index drawn from a Zipf-like popularity curve."""
    rank = f"floor({params.n_products} * pow({u_expr}, {POPULARITY_SKEW}))::BIGINT"
    return popularity_perm(params).sql(rank)


def products_sql(params: Params) -> str:
    """CREATE TABLE products (catalogue with integer prices in cents)."""
    return f"""
CREATE TABLE products AS
WITH d AS (
  SELECT i AS product_idx,
    floor({unif("i", Salt.PRODUCT, 0)} * len(getvariable('categories')))::BIGINT AS cat,
    floor({unif("i", Salt.PRODUCT, 1)} * len(getvariable('brands')))::BIGINT AS brand_idx,
    floor({unif("i", Salt.PRODUCT, 2)} * len(getvariable('adjectives')))::BIGINT AS adj_idx,
    {unif("i", Salt.PRODUCT, 3)} AS r_noun,
    {normal("i", Salt.PRODUCT, 4)} AS z_price
  FROM range({params.n_products}) t(i)
)
SELECT product_idx, cat,
  product_code(product_idx) AS product_id,
  getvariable('brands')[brand_idx + 1] || ' ' || getvariable('adjectives')[adj_idx + 1] || ' '
    || {pick("getvariable('category_nouns')[cat + 1]", "r_noun")} || ' '
    || chr((65 + product_idx % 26)::INTEGER) || (100 + (product_idx // 26) % 900)::VARCHAR
    AS product_name,
  getvariable('categories')[cat + 1] AS category,
  getvariable('brands')[brand_idx + 1] AS brand,
  greatest(199, floor(getvariable('category_base')[cat + 1] * exp(0.55 * z_price) / 100)::BIGINT
    * 100 + 99) AS price_cents
FROM d
ORDER BY product_idx
"""


def product_lookup_sql(params: Params) -> str:
    """CREATE TABLE product_lookup: (mode, rank) -> product; mode 0 popularity, 1 price rank."""
    pop = popularity_perm(params).sql("r")
    return f"""
CREATE TABLE product_lookup AS
SELECT l.mode, l.rank, l.product_idx, pr.price_cents
FROM (
  SELECT 0 AS mode, r AS rank, {pop} AS product_idx FROM range({params.n_products}) t(r)
  UNION ALL
  SELECT 1 AS mode, row_number() OVER (ORDER BY price_cents, product_idx) - 1 AS rank,
    product_idx
  FROM products
) l JOIN products pr USING (product_idx)
"""


def products_output_sql() -> str:
    """SELECT for the products file (no defects)."""
    return """SELECT product_id, product_name, category, brand,
      fmt_cents(price_cents) AS list_price, NULL::VARCHAR AS rd, product_idx AS sort_key
    FROM products"""


def _order_draws() -> str:
    """Per-order uniforms/normals keyed by the order key ``ok``."""
    d = {
        "r_mode": unif("ok", Salt.ORDER_MODE),
        "r_channel": unif("ok", Salt.ORDER_CHANNEL),
        "r_status": unif("ok", Salt.ORDER_STATUS),
        "r_slot0": unif("ok", Salt.ORDER_SLOT, 0),
        "r_slot1": unif("ok", Salt.ORDER_SLOT, 1),
        "r_email0": unif("ok", Salt.ORDER_EMAIL, 0),
        "r_email1": unif("ok", Salt.ORDER_EMAIL, 1),
        "r_email2": unif("ok", Salt.ORDER_EMAIL, 2),
        "r_cookie0": unif("ok", Salt.ORDER_COOKIE, 0),
        "r_cookie1": unif("ok", Salt.ORDER_COOKIE, 1),
        "r_cookie2": unif("ok", Salt.ORDER_COOKIE, 2),
        "r_time0": unif("ok", Salt.ORDER_TIME, 0),
        "r_time1": unif("ok", Salt.ORDER_TIME, 1),
        "z_lines": normal("ok", Salt.ORDER_LINES),
        "r_disc0": unif("ok", Salt.ORDER_DISCOUNT, 0),
        "r_disc1": unif("ok", Salt.ORDER_DISCOUNT, 1),
        "r_tz0": unif("ok", Salt.ORDER_TZ, 0),
        "r_tz1": unif("ok", Salt.ORDER_TZ, 1),
        "r_track": unif("ok", Salt.ORDER_TRACKED),
        "r_dirt": unif("ok", Salt.ORDER_DIRT),
        "r_kind": unif("ok", Salt.ORDER_DIRT_KIND),
    }
    return ",\n    ".join(f"{expr} AS {name}" for name, expr in d.items())


def orders_base_sql(params: Params) -> str:
    """CREATE TABLE orders_base: one row per (true) order with every decision pre-drawn."""
    channel = (
        "(CASE mode "
        + " ".join(
            f"WHEN {mode} THEN {choice('r_channel', options)}"
            for mode, options in CHANNELS_BY_MODE.items()
        )
        + " END)"
    )
    day = seasonal_day("ok", Salt.ORDER_DAY, "first_order_day", "active_end_day")
    status = choice(
        "r_status", [("'completed'", 0.88), ("'cancelled'", 0.06), ("'returned'", 0.06)]
    )
    return f"""
CREATE TABLE orders_base AS
WITH o AS (
  SELECT p, j, order_offset + j AS ok, first_order_day, active_end_day, country_idx,
    has_loyalty, loyalty_code, n_ids, hard, n_cookies, basket_mu, price_tier, email
  FROM (SELECT *, unnest(range(n_orders)) AS j FROM persons WHERE n_orders > 0)
),
r AS (SELECT *, {_order_draws()} FROM o),
m AS (
  SELECT *,
    CASE WHEN has_loyalty THEN {choice("r_mode", MODES_WITH_LOYALTY)}
         ELSE {choice("r_mode", MODES_WITHOUT_LOYALTY)} END AS mode,
    CASE WHEN j = 0 THEN first_order_day ELSE {day} END AS day
  FROM r
),
c AS (
  SELECT *,
    mode = 3 AND r_cookie1 < 0.1 AS kiosk,
    CASE WHEN mode = 3 AND r_cookie1 < 0.1 THEN 'store' ELSE {channel} END AS channel,
    floor(r_slot1 * (n_ids + hard::INTEGER))::BIGINT AS slot_pos
  FROM m
),
f AS (
  SELECT *,
    CASE WHEN channel = 'store' THEN 32400 + floor(r_time0 * 43200)::BIGINT
         WHEN r_time1 < 0.75 THEN 28800 + floor(r_time0 * 54000)::BIGINT
         ELSE floor(r_time0 * 86400)::BIGINT END AS tod,
    CASE WHEN mode <> 0 THEN NULL WHEN r_slot0 < 0.6 THEN 0
         WHEN slot_pos < n_ids THEN slot_pos ELSE 3 END AS slot,
    CASE WHEN mode = 0 AND r_email0 < 0.3 THEN email
         WHEN mode = 1 AND r_email0 < 0.02 THEN 'test@example.com'
         WHEN mode = 1 AND r_email0 < 0.22 THEN email_variant(email, r_email1)
         WHEN mode = 1 THEN email END AS email_out,
    CASE WHEN mode = 2 OR (mode = 0 AND has_loyalty AND r_email2 < 0.2)
         THEN loyalty_code END AS loyalty_out,
    CASE WHEN kiosk THEN -(1 + floor(r_cookie2 * 5)::BIGINT)
         WHEN mode = 3 OR (mode IN (0, 1) AND channel <> 'store' AND r_cookie0 < 0.5)
         THEN p * 4 + floor(r_cookie2 * n_cookies)::BIGINT END AS cookie_key,
    least(30, greatest(1, floor(exp(basket_mu + 0.45 * z_lines) + 0.5)))::BIGINT AS n_lines,
    CASE WHEN r_disc0 < 0.3 THEN 0.05 + 0.25 * r_disc1 ELSE 0.0 END AS discount_pct,
    CASE WHEN r_tz0 < 0.03
      THEN {pick("getvariable('country_offsets')[country_idx + 1]", "r_tz1")} END AS tz_off,
    channel <> 'store' AND r_track < {TRACKED_WEB_ORDER_SHARE} AS tracked,
    (mode = 1 AND r_email0 < 0.02) OR kiosk AS junk_identity,
    {status} AS status,
    {dirt.defect_case("r_dirt", dirt.ORDER_DEFECTS)} AS defect
  FROM c
)
SELECT ok, p, j, country_idx, mode, channel, status, slot, email_out, loyalty_out, cookie_key,
  day * {SECONDS_PER_DAY} + tod AS sec, tod, n_lines, discount_pct, tz_off, tracked,
  junk_identity, defect, r_kind, price_tier
FROM f
ORDER BY ok
"""


def order_lines_sql(params: Params) -> str:
    """CREATE TABLE order_lines (clean quantities/prices) and order_sub (subtotals)."""
    n = params.n_products
    qty = choice(
        "r_qty", [("1", 0.78), ("2", 0.16), ("3", 0.04), ("4 + floor(r_qty1 * 3)::BIGINT", 0.02)]
    )
    return f"""
CREATE TABLE order_lines AS
WITH l AS (
  SELECT ok, price_tier, ln, ok * 32 + ln AS lk
  FROM (SELECT ok, price_tier, unnest(range(n_lines)) AS ln FROM orders_base)
),
d AS (
  SELECT *,
    {unif("lk", Salt.LINE_PRODUCT, 0)} AS r_mode,
    {unif("lk", Salt.LINE_PRODUCT, 1)} AS r_rank,
    {normal("lk", Salt.LINE_PRODUCT, 2)} AS z_rank,
    {unif("lk", Salt.LINE_QTY, 0)} AS r_qty,
    {unif("lk", Salt.LINE_QTY, 1)} AS r_qty1,
    {unif("lk", Salt.LINE_DIRT, 0)} AS r_dirt,
    {unif("lk", Salt.LINE_DIRT, 1)} AS r_kind,
    {unif("lk", Salt.LINE_DIRT, 2)} AS r_orphan
  FROM l
),
k AS (
  SELECT *,
    CASE WHEN r_mode < 0.5 THEN 0 ELSE 1 END AS mode,
    (CASE WHEN r_mode < 0.5 THEN floor({n} * pow(r_rank, {POPULARITY_SKEW}))
          ELSE least({n - 1}, greatest(0, floor({n} * (price_tier + 0.12 * z_rank)))) END
    )::BIGINT AS rank
  FROM d
)
SELECT k.ok, k.ln, k.lk, pl.product_idx, pl.price_cents AS unit_cents, {qty} AS qty,
  {dirt.defect_case("r_dirt", dirt.ORDER_ITEM_DEFECTS)} AS defect, r_kind, r_orphan
FROM k JOIN product_lookup pl ON pl.mode = k.mode AND pl.rank = k.rank
ORDER BY k.ok, k.ln;

CREATE TABLE order_sub AS
SELECT ok, sum(qty * unit_cents)::BIGINT AS subtotal FROM order_lines GROUP BY ok;
"""


def order_number_width(perm: Perm) -> int:
    """Digits of the numeric part of an order_id."""
    return len(str(perm.mod)) - 1


def orders_output_sql(params: Params, n_orders: int) -> str:
    """SELECT for the orders file: clean rows, added duplicate rows and in-place defects."""
    perm = params.order_perm(n_orders)
    width = order_number_width(perm)
    future = (
        f"fmt_ts({params.end_sec} + (29 + floor(r_kind * 371)::BIGINT) * {SECONDS_PER_DAY} + tod)"
    )
    return f"""
WITH x AS (
  SELECT b.*, s.subtotal,
    floor(s.subtotal * b.discount_pct + 0.5)::BIGINT AS discount,
    {perm.sql("b.ok")} AS sort_key,
    unnest(CASE WHEN b.defect IN ('exact_duplicate_row', 'conflicting_duplicate_key')
                THEN [0, 1] ELSE [0] END) AS copy_no
  FROM orders_base b JOIN order_sub s USING (ok)
),
y AS (
  SELECT *, subtotal - discount AS total,
    CASE WHEN copy_no = 1 THEN defect
         WHEN defect IN ('exact_duplicate_row', 'conflicting_duplicate_key') THEN NULL
         ELSE defect END AS rd
  FROM x
)
SELECT
  CASE WHEN rd = 'null_order_id' THEN NULL
       ELSE 'O' || lpad(sort_key::VARCHAR, {width}, '0') END AS order_id,
  CASE WHEN rd = 'no_customer_identifier' OR slot IS NULL THEN NULL
       ELSE cust_id(p * 4 + slot) END AS customer_id,
  CASE WHEN rd = 'no_customer_identifier' THEN NULL ELSE email_out END AS email,
  CASE WHEN rd = 'no_customer_identifier' THEN NULL ELSE loyalty_out END AS loyalty_id,
  CASE WHEN rd = 'no_customer_identifier' OR cookie_key IS NULL THEN NULL
       ELSE cookie_id(cookie_key) END AS anonymous_id,
  CASE WHEN rd = 'future_order_ts' THEN {future}
       WHEN rd = 'implausibly_old_order_ts' THEN {pick("getvariable('old_ts')", "r_kind")}
       WHEN rd = 'unparseable_order_ts' THEN {pick("getvariable('bad_ts')", "r_kind")}
       WHEN tz_off IS NOT NULL THEN fmt_ts_offset(sec, tz_off)
       ELSE fmt_ts(sec) END AS order_ts,
  channel, status,
  CASE WHEN rd = 'unknown_currency' THEN {pick("getvariable('bad_currencies')", "r_kind")}
       ELSE getvariable('country_currency')[country_idx + 1] END AS currency,
  CASE WHEN rd = 'conflicting_duplicate_key'
         THEN fmt_cents(total + greatest(100, floor(total * (0.1 + 0.4 * r_kind))::BIGINT))
       WHEN rd = 'negative_order_total' THEN fmt_cents(-total)
       WHEN rd = 'absurd_order_total'
         THEN fmt_cents(100000000 + total * (1 + floor(r_kind * 1000)::BIGINT))
       WHEN rd = 'unparseable_order_total' THEN (CASE floor(r_kind * 3)::BIGINT
           WHEN 0 THEN 'N/A' WHEN 1 THEN replace(fmt_cents(total), '.', ',') ELSE '--' END)
       ELSE fmt_cents(total) END AS order_total,
  fmt_cents(discount) AS discount_amount,
  rd, sort_key, copy_no
FROM y
"""


def order_items_output_sql(params: Params, n_orders: int) -> str:
    """SELECT for order_items: lines of every order with an id, plus orphan lines."""
    perm = params.order_perm(n_orders)
    width = order_number_width(perm)
    orphan_key = f"{n_orders} + floor(r_orphan * {max(n_orders, 1)})::BIGINT"
    return f"""
WITH x AS (
  SELECT l.*, {perm.sql("l.ok")} AS onum, {perm.sql(orphan_key)} AS orphan_num,
    unnest(CASE WHEN l.defect = 'orphan_order_line' THEN [0, 1] ELSE [0] END) AS copy_no
  FROM order_lines l JOIN orders_base b USING (ok)
  WHERE b.defect IS DISTINCT FROM 'null_order_id'
),
y AS (
  SELECT *,
    CASE WHEN copy_no = 1 THEN 'orphan_order_line'
         WHEN defect = 'orphan_order_line' THEN NULL ELSE defect END AS rd,
    CASE WHEN copy_no = 1 THEN orphan_num ELSE onum END AS sort_key,
    ln + 1 AS line_no
  FROM x
)
SELECT 'O' || lpad(sort_key::VARCHAR, {width}, '0') AS order_id,
  line_no::VARCHAR AS line_number,
  product_code(product_idx) AS product_id,
  CASE WHEN rd = 'non_positive_quantity' THEN (-floor(r_kind * 3)::BIGINT)::VARCHAR
       ELSE qty::VARCHAR END AS quantity,
  fmt_cents(unit_cents) AS unit_price,
  rd, sort_key, line_no, ok, copy_no
FROM y
"""
