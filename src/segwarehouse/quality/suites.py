"""The expectation suites, versioned with the code: raw sources, staging, public marts.

Every suite is a SQL query (the frame) and a list of Great Expectations expectations. DuckDB
computes each expectation's metrics over the frame's rows and GX's `_validate` judges them
(quality/metrics.py; GX's SQL path on DuckDB through duckdb_engine returns empty metrics, see
docs/data_quality.md). What each frame holds, at 1M customers / 50M raw rows:

- raw: a deterministic hash sample of at most RAW_SAMPLE_ROWS rows per landing file (row-level
  expectations with `mostly` thresholds: raw data is dirty by design and quarantined later);
- staging: one row of DuckDB-side aggregates per staged model (rows, distinct keys, null keys)
  and audit.source_reconciliation (one row per source);
- marts: the whole table, only the columns the expectations read (never fetched into Python).

To add an expectation, append it to the suite's `expectations` function and bump
SUITE_VERSION (it is stored with every result row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import great_expectations.expectations as gxe

SUITE_VERSION = "2026.12.07-1"
# Upper bound on the rows fetched per raw landing file (a deterministic sample above it).
RAW_SAMPLE_ROWS = 200_000

ORDER_STATUSES = ["completed", "cancelled", "returned"]
WEB_EVENT_TYPES = [
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "purchase",
    "login",
    "signup",
    "search",
]
CONSENT_CHANNELS = ["email", "sms", "ads", "push"]
CONSENT_STATUSES = ["granted", "revoked"]
CAMPAIGN_EVENT_TYPES = ["sent", "delivered", "opened", "clicked", "converted", "unsubscribed"]
CAMPAIGN_VARIANTS = ["treatment", "control"]
LIFECYCLE_STAGES = ["prospect", "new", "active", "lapsing", "churned", "reactivated"]
# A family not listed here fails marts.segment_membership: add it when a model starts to emit it.
SEGMENT_FAMILIES = ["rule", "rfm", "lifecycle", "churn_risk", "cluster"]
MAX_ORDER_TOTAL = 100_000


# Optional contract columns a raw suite checks, per landing file. A file may leave such a
# column out (docs/raw_data_contract.md: it then reads as null everywhere), so their
# expectations apply only when the file delivers the column (any value in it).
OPTIONAL_RAW_COLUMNS = {"crm_customers": ("email", "created_at", "updated_at")}
# Staged models that must hold rows: those of the required landing files.
REQUIRED_STAGED_MODELS = ("stg_crm__customers", "stg_commerce__orders")


@dataclass(frozen=True)
class Lookups:
    """Values an expectation needs from the warehouse itself (fetched once per run)."""

    erased_customer_keys: list[str] = field(default_factory=list)
    # "<landing file>.<column>" of OPTIONAL_RAW_COLUMNS that hold no value at all
    undelivered_columns: frozenset[str] = frozenset()
    # Python models of the audited build that had nothing to learn from (audit.model_runs
    # status 'skipped', with the reason there): their empty output is expected, not a failure
    skipped_models: frozenset[str] = frozenset()

    def delivered(self, source: str, columns: list[str]) -> list[str]:
        """The columns of `source` its landing file delivers (all of them unless known absent)."""
        return [
            column for column in columns if f"{source}.{column}" not in self.undelivered_columns
        ]


ExpectationsFn = Callable[[Lookups], list[gxe.Expectation]]


@dataclass(frozen=True)
class Suite:
    """One expectation suite: the frame to fetch and what must hold on it."""

    name: str
    layer: str
    relation: str
    query: str
    expectations: ExpectationsFn

    def build(self, lookups: Lookups) -> list[gxe.Expectation]:
        """The suite's expectations, bound to this run's lookups."""
        return self.expectations(lookups)


def _not_null(columns: list[str], mostly: float = 1.0) -> list[gxe.Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=mostly) for column in columns]


def _raw_sample(source: str, columns: list[str], extra: str = "") -> str:
    """A deterministic sample (hash of the row's values) of at most RAW_SAMPLE_ROWS rows."""
    projected = ", ".join(columns)
    extra_sql = f", {extra}" if extra else ""
    return (
        f"with counted as (select count(*) as n from raw.{source}) "
        f"select {projected}{extra_sql} from raw.{source}, counted "
        f"where counted.n <= {RAW_SAMPLE_ROWS} "
        f"or hash({projected}) % counted.n < {RAW_SAMPLE_ROWS}"
    )


# --- raw -------------------------------------------------------------------------------------


def _raw_crm(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_not_null(["customer_id"], mostly=0.99),
        *_not_null(lookups.delivered("crm_customers", ["created_at", "updated_at"]), mostly=0.98),
        *_not_null(lookups.delivered("crm_customers", ["email"]), mostly=0.8),
    ]


def _raw_orders(_: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *_not_null(["order_id", "order_ts", "status", "order_total"], mostly=0.99),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=ORDER_STATUSES, mostly=0.98),
        gxe.ExpectColumnValuesToBeBetween(
            column="order_total_amount", min_value=0, max_value=MAX_ORDER_TOTAL, mostly=0.98
        ),
    ]


def _raw_order_items(_: Lookups) -> list[gxe.Expectation]:
    return [
        *_not_null(["order_id", "product_id", "quantity", "unit_price"], mostly=0.99),
        gxe.ExpectColumnValuesToBeBetween(
            column="quantity_number", min_value=1, max_value=1000, mostly=0.98
        ),
    ]


def _raw_web_events(_: Lookups) -> list[gxe.Expectation]:
    return [
        *_not_null(["event_id", "event_type", "event_ts"], mostly=0.99),
        gxe.ExpectColumnValuesToBeInSet(
            column="event_type", value_set=WEB_EVENT_TYPES, mostly=0.98
        ),
    ]


def _raw_consents(_: Lookups) -> list[gxe.Expectation]:
    return [
        *_not_null(["channel", "status", "recorded_at"], mostly=0.99),
        gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=CONSENT_CHANNELS, mostly=0.98),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=CONSENT_STATUSES, mostly=0.98),
    ]


def _raw_campaign_events(_: Lookups) -> list[gxe.Expectation]:
    return [
        *_not_null(["campaign_id", "event_type", "event_ts"], mostly=0.99),
        gxe.ExpectColumnValuesToBeInSet(
            column="event_type", value_set=CAMPAIGN_EVENT_TYPES, mostly=0.98
        ),
        gxe.ExpectColumnValuesToBeInSet(column="variant", value_set=CAMPAIGN_VARIANTS, mostly=0.98),
    ]


# --- staging ---------------------------------------------------------------------------------

STAGED_KEYS = {
    "stg_crm__customers": "customer_id",
    "stg_commerce__orders": "order_id",
    "stg_commerce__products": "product_id",
    "stg_commerce__order_items": "order_id || '#' || line_number",
    "stg_web__events": "event_id",
}


def _staging_keys_query() -> str:
    return " union all ".join(
        f"select '{model}' as model, count(*) as row_count, count(distinct {key}) as "
        f"distinct_keys, count(*) - count({key}) as null_keys, "
        f"{'count(*)' if model in REQUIRED_STAGED_MODELS else 'null'} as required_rows "
        f"from staging.{model}"
        for model, key in STAGED_KEYS.items()
    )


def _staging_keys(_: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(column_A="row_count", column_B="distinct_keys"),
        gxe.ExpectColumnValuesToBeInSet(column="null_keys", value_set=[0]),
        # an optional source may be absent (0 rows); a required one may not (null = optional)
        gxe.ExpectColumnValuesToBeBetween(column="required_rows", min_value=1),
    ]


def _staging_reconciliation(_: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=2),
        gxe.ExpectColumnValuesToBeInSet(column="is_reconciled", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="unaccounted_rows", value_set=[0]),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="raw_rows", column_B="landing_rows"),
        gxe.ExpectColumnValuesToBeBetween(column="quarantine_rate", min_value=0, max_value=1),
    ]


# --- marts -----------------------------------------------------------------------------------


def _one_row_per_customer(lookups: Lookups, model: str | None = None) -> list[gxe.Expectation]:
    """Keys valid and unique; at least one row unless `model` was skipped (and said why)."""
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=0 if model in lookups.skipped_models else 1),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_key"),
        gxe.ExpectColumnValuesToBeUnique(column="customer_key"),
        gxe.ExpectColumnValuesToMatchRegex(column="customer_key", regex=r"^cus_[0-9a-f]{16,32}$"),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="customer_key", value_set=lookups.erased_customer_keys or ["<none>"]
        ),
    ]


def _dim_customers(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        *_one_row_per_customer(lookups),
        gxe.ExpectColumnValuesToBeBetween(column="birth_year", min_value=1900, max_value=2026),
        gxe.ExpectColumnValuesToBeBetween(column="identifier_count", min_value=1, max_value=50),
    ]


def _customer_features(lookups: Lookups) -> list[gxe.Expectation]:
    rates = [
        "discount_share",
        "return_rate",
        "cancel_rate",
        "cart_abandonment_rate",
        "mobile_session_share",
        "email_open_rate",
        "email_click_rate",
    ]
    return [
        *_one_row_per_customer(lookups),
        *(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in rates),
        gxe.ExpectColumnValuesToBeBetween(column="order_count", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="recency_days", min_value=0),
    ]


def _customer_rfm(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        *_one_row_per_customer(lookups),
        *(
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=1, max_value=5)
            for c in ("r_score", "f_score", "m_score")
        ),
        gxe.ExpectColumnValuesToBeInSet(column="lifecycle_stage", value_set=LIFECYCLE_STAGES),
        gxe.ExpectColumnValuesToNotBeNull(column="rfm_segment"),
    ]


def _segment_membership(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["customer_key", "segment_id"]),
        gxe.ExpectColumnValuesToBeInSet(column="segment_family", value_set=SEGMENT_FAMILIES),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="customer_key", value_set=lookups.erased_customer_keys or ["<none>"]
        ),
    ]


def _churn_scores(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        *_one_row_per_customer(lookups, "customer_churn_scores"),
        gxe.ExpectColumnValuesToNotBeNull(column="churn_probability"),
        gxe.ExpectColumnValuesToBeBetween(column="churn_probability", min_value=0, max_value=1),
    ]


def _clv(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        *_one_row_per_customer(lookups, "customer_clv"),
        gxe.ExpectColumnValuesToBeBetween(column="probability_alive", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="expected_purchases_365d", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="clv", min_value=0),
    ]


def _key_maps(lookups: Lookups) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToNotBeInSet(
            column="customer_key", value_set=lookups.erased_customer_keys or ["<none>"]
        ),
        gxe.ExpectColumnValuesToBeBetween(column="match_probability", min_value=0, max_value=1),
    ]


def all_suites() -> list[Suite]:
    """Every suite, in run order (raw, staging, marts)."""
    return [
        Suite(
            "raw.crm_customers",
            "raw",
            "raw.crm_customers",
            _raw_sample("crm_customers", ["customer_id", "email", "created_at", "updated_at"]),
            _raw_crm,
        ),
        Suite(
            "raw.orders",
            "raw",
            "raw.orders",
            _raw_sample(
                "orders",
                ["order_id", "order_ts", "status", "order_total"],
                "try_cast(order_total as double) as order_total_amount",
            ),
            _raw_orders,
        ),
        Suite(
            "raw.order_items",
            "raw",
            "raw.order_items",
            _raw_sample(
                "order_items",
                ["order_id", "product_id", "quantity", "unit_price"],
                "try_cast(quantity as double) as quantity_number",
            ),
            _raw_order_items,
        ),
        Suite(
            "raw.web_events",
            "raw",
            "raw.web_events",
            _raw_sample("web_events", ["event_id", "event_type", "event_ts"]),
            _raw_web_events,
        ),
        Suite(
            "raw.consents",
            "raw",
            "raw.consents",
            _raw_sample("consents", ["channel", "status", "recorded_at"]),
            _raw_consents,
        ),
        Suite(
            "raw.campaign_events",
            "raw",
            "raw.campaign_events",
            _raw_sample(
                "campaign_events",
                ["campaign_id", "event_type", "event_ts"],
                "coalesce(nullif(variant, ''), 'treatment') as variant",
            ),
            _raw_campaign_events,
        ),
        Suite(
            "staging.keys",
            "staging",
            "staging.stg_*",
            _staging_keys_query(),
            _staging_keys,
        ),
        Suite(
            "staging.reconciliation",
            "staging",
            "audit.source_reconciliation",
            "select r.source_name, r.raw_rows, r.is_reconciled, r.quarantine_rate, "
            "r.raw_rows - (r.staged_rows + r.quarantined_rows + r.duplicate_rows "
            "+ r.superseded_rows + r.not_yet_visible_rows + r.erased_rows + r.expired_rows) "
            "as unaccounted_rows, "
            "l.landing_rows from audit.source_reconciliation r left join ({landing}) l "
            "using (source_name)",
            _staging_reconciliation,
        ),
        Suite(
            "marts.dim_customers",
            "marts",
            "marts.dim_customers",
            "select customer_key, birth_year, identifier_count from marts.dim_customers",
            _dim_customers,
        ),
        Suite(
            "marts.customer_features",
            "marts",
            "marts.customer_features",
            "select customer_key, order_count, recency_days, discount_share, return_rate, "
            "cancel_rate, cart_abandonment_rate, mobile_session_share, email_open_rate, "
            "email_click_rate from marts.customer_features",
            _customer_features,
        ),
        Suite(
            "marts.customer_rfm",
            "marts",
            "marts.customer_rfm",
            "select customer_key, r_score, f_score, m_score, lifecycle_stage, rfm_segment "
            "from marts.customer_rfm",
            _customer_rfm,
        ),
        Suite(
            "marts.segment_membership",
            "marts",
            "marts.segment_membership",
            "select customer_key, segment_id, segment_family from marts.segment_membership",
            _segment_membership,
        ),
        # ML marts (built by python_models/marts/ml): skipped while the table does not exist.
        Suite(
            "marts.customer_churn_scores",
            "marts",
            "marts.customer_churn_scores",
            "select customer_key, churn_probability from marts.customer_churn_scores",
            _churn_scores,
        ),
        Suite(
            "marts.customer_clv",
            "marts",
            "marts.customer_clv",
            "select customer_key, probability_alive, expected_purchases_365d, clv "
            "from marts.customer_clv",
            _clv,
        ),
        Suite(
            "marts.customer_identity_map",
            "marts",
            "marts.customer_identity_map",
            "select customer_key, match_probability from marts.customer_identity_map",
            _key_maps,
        ),
        Suite(
            "marts.customer_record_map",
            "marts",
            "marts.customer_record_map",
            "select customer_key, match_probability from marts.customer_record_map",
            _key_maps,
        ),
    ]
