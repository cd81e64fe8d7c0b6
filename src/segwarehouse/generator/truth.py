"""Ground-truth tables (never written next to the generated sources)."""

from __future__ import annotations

from segwarehouse.generator.params import Params

TRUTH_FILES: tuple[str, ...] = ("persons", "crm_truth", "order_truth", "cookie_truth")


def persons_truth_sql() -> str:
    """Canonical identity of every person."""
    return """
SELECT p AS person_id, first_name, last_name, email,
  '+' || phone_cc || phone_nat AS phone,
  DATE '1970-01-01' + birth_day::INTEGER AS birth_date,
  getvariable('country_iso')[country_idx + 1] AS country,
  n_orders = 0 AS is_prospect
FROM persons
ORDER BY person_id
"""


def crm_truth_sql() -> str:
    """One row per customer_id -> person."""
    return """
SELECT cust_id(ck) AS customer_id, p AS person_id
FROM (SELECT DISTINCT ck, p FROM crm)
ORDER BY customer_id
"""


def order_truth_sql(params: Params, n_orders: int) -> str:
    """One row per order_id -> person (NULL when only a junk identifier or none is present)."""
    perm = params.order_perm(n_orders)
    width = len(str(perm.mod)) - 1
    return f"""
SELECT 'O' || lpad({perm.sql("ok")}::VARCHAR, {width}, '0') AS order_id,
  CASE WHEN junk_identity OR defect = 'no_customer_identifier' THEN NULL ELSE p END AS person_id
FROM orders_base
WHERE defect IS DISTINCT FROM 'null_order_id'
ORDER BY order_id
"""


def cookie_truth_sql() -> str:
    """Every cookie seen in web events or orders -> person (NULL for visitors and kiosks)."""
    return """
SELECT cookie_id(cookie_key) AS anonymous_id,
  CASE WHEN cookie_key < 0 THEN NULL ELSE min(p) END AS person_id
FROM (
  SELECT cookie_key, p FROM sessions
  UNION ALL
  SELECT cookie_key, p FROM orders_base
  WHERE cookie_key IS NOT NULL AND defect IS DISTINCT FROM 'no_customer_identifier'
)
GROUP BY cookie_key
ORDER BY anonymous_id
"""
