"""Defect catalogue: which defects are injected into which source, at which rate.

Each dirty row carries exactly one defect. A single uniform per candidate row is mapped onto
disjoint intervals (one per defect), so defects never overlap. Defects whose name ends in
``_row``/``_key``/``_line`` are *added* rows (a copy of a clean row, or a clean row pointing to a
non-existent parent); the others modify the row in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DefectRates = Sequence[tuple[str, float]]

ORDER_DEFECTS: DefectRates = (
    ("exact_duplicate_row", 0.01),
    ("conflicting_duplicate_key", 0.002),
    ("negative_order_total", 0.003),
    ("absurd_order_total", 0.0005),
    ("future_order_ts", 0.001),
    ("implausibly_old_order_ts", 0.0005),
    ("unparseable_order_ts", 0.0005),
    ("unparseable_order_total", 0.0005),
    ("unknown_currency", 0.001),
    ("null_order_id", 0.0005),
    ("no_customer_identifier", 0.0005),
)

CRM_DEFECTS: DefectRates = (
    ("malformed_email", 0.005),
    ("junk_email", 0.003),
    ("junk_phone", 0.003),
)
# null_customer_id is drawn separately, only on superseded versions of a customer record, so
# that every customer_id referenced elsewhere still exists in the CRM.
CRM_NULL_ID_DEFECT = "null_customer_id"
CRM_NULL_ID_RATE_AMONG_SUPERSEDED = 0.0087

ORDER_ITEM_DEFECTS: DefectRates = (
    ("non_positive_quantity", 0.001),
    ("orphan_order_line", 0.002),
)

WEB_EVENT_DEFECTS: DefectRates = (
    ("exact_duplicate_row", 0.005),
    ("future_event_ts", 0.0005),
    ("unknown_event_type", 0.0005),
)

CONSENT_DEFECTS: DefectRates = (("unknown_channel", 0.001),)
CAMPAIGN_EVENT_DEFECTS: DefectRates = (("unknown_event_type", 0.001),)

DEFECT_NAMES: Mapping[str, tuple[str, ...]] = {
    "crm_customers": (CRM_NULL_ID_DEFECT, *(name for name, _ in CRM_DEFECTS)),
    "orders": tuple(name for name, _ in ORDER_DEFECTS),
    "order_items": tuple(name for name, _ in ORDER_ITEM_DEFECTS),
    "products": (),
    "web_events": tuple(name for name, _ in WEB_EVENT_DEFECTS),
    "consents": tuple(name for name, _ in CONSENT_DEFECTS),
    "campaign_events": tuple(name for name, _ in CAMPAIGN_EVENT_DEFECTS),
    "erasure_requests": (),
}

DEFECT_FREE_KEY = "defect_free_rows"
TOTAL_KEY = "total_rows"


def defect_case(u_col: str, rates: DefectRates) -> str:
    """SQL CASE mapping the uniform column ``u_col`` to a defect name (NULL = clean row)."""
    branches, cumulative = [], 0.0
    for name, rate in rates:
        cumulative += rate
        branches.append(f"WHEN {u_col} < {cumulative!r} THEN '{name}'")
    return f"(CASE {' '.join(branches)} END)"


def manifest_entry(source: str, counts: Mapping[str | None, int]) -> dict[str, int]:
    """Manifest block for one source from ``{defect or None: n_rows}`` counts.

    Every known defect of the source is listed (0 when absent), followed by the number of
    defect-free rows and the total; the defect counts and defect-free rows add up to the total.
    """
    unknown = {name for name in counts if name is not None} - set(DEFECT_NAMES[source])
    if unknown:
        raise RuntimeError(f"undeclared defects for {source}: {sorted(unknown)}")
    entry = {name: int(counts.get(name, 0)) for name in DEFECT_NAMES[source]}
    entry[DEFECT_FREE_KEY] = int(counts.get(None, 0))
    entry[TOTAL_KEY] = sum(int(n) for n in counts.values())
    return entry
