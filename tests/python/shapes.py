"""Landing folders unlike the demo, written by hand (not by the project's generator).

`Retail` describes a small shop's two required files (crm_customers, orders) and, optionally,
consents; `write` lays them down as CSV and returns what a correct warehouse must hold,
computed here in plain Python so that the build is checked against an independent count.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

# The raw-data contract's headers of the two required files, written out here (not taken from
# the generator or the sources YAML): tests check the build against them independently.
CRM_HEADER = (
    "customer_id,email,phone,first_name,last_name,birth_date,gender,street_address,city,"
    "region,postal_code,country,loyalty_id,source_system,created_at,updated_at"
)
ORDERS_HEADER = (
    "order_id,customer_id,email,loyalty_id,anonymous_id,order_ts,channel,status,currency,"
    "order_total,discount_amount"
)
FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Brennan", "Kowalski")
CRM_FULL_COLUMNS = (
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "created_at",
    "updated_at",
)
CRM_ID_COLUMNS = ("customer_id",)
# The contract's orders columns less the identifiers a hand-made shop does not have: guest
# e-mail, loyalty id, cookie id.
ORDER_FULL_COLUMNS = tuple(
    column
    for column in ORDERS_HEADER.split(",")
    if column not in ("email", "loyalty_id", "anonymous_id")
)
ORDER_ID_COLUMNS = ("order_id", "customer_id", "order_ts", "status", "order_total")


@dataclass(frozen=True)
class Retail:
    """A hand-made shop. Every field is one knob of the shape.

    customers: CRM rows (one per person; ids C0001…).
    buyers: how many of them order (the first `buyers` ids); None = all.
    orders_per_buyer: (min, max) orders of a buyer, inclusive.
    first_day / last_day: the order dates' range (inclusive).
    statuses: cycled through the orders in order.
    currency: every order's currency; amount: every order's total (None = varied).
    ids_only: write only the contract's required columns (no names, emails, phones, currency).
    orphan_buyers: extra buyers (ids X0001…) in orders but not in the CRM file.
    consent_status: when set, a consents file granting or revoking email/sms/ads for everyone.
    """

    customers: int = 60
    buyers: int | None = None
    orders_per_buyer: tuple[int, int] = (1, 6)
    first_day: date = date(2025, 1, 1)
    last_day: date = date(2026, 6, 30)
    statuses: tuple[str, ...] = ("completed",) * 8 + ("cancelled", "returned")
    currency: str = "USD"
    amount: Decimal | None = None
    ids_only: bool = False
    orphan_buyers: int = 0
    consent_status: str | None = None
    seed: int = 7


@dataclass
class Expected:
    """What the warehouse must hold for a `Retail` folder (independent of the build)."""

    people: int = 0
    crm_people: int = 0
    completed_buyers: int = 0
    orders: int = 0
    completed_orders: int = 0
    completed_total: Decimal = Decimal(0)
    order_days: set[date] = field(default_factory=set)
    as_of_date: date = date(2026, 6, 30)


def write(shop: Retail, raw_dir: Path) -> Expected:
    """Write crm_customers.csv, orders.csv (and consents.csv) into raw_dir."""
    rng = random.Random(shop.seed)
    raw_dir.mkdir(parents=True, exist_ok=True)
    crm_ids = [f"C{n:04d}" for n in range(1, shop.customers + 1)]
    buyer_ids = crm_ids[: shop.customers if shop.buyers is None else shop.buyers]
    buyer_ids += [f"X{n:04d}" for n in range(1, shop.orphan_buyers + 1)]
    created = datetime.combine(shop.first_day, datetime.min.time()) - timedelta(days=30)
    _write_csv(
        raw_dir / "crm_customers.csv",
        CRM_ID_COLUMNS if shop.ids_only else CRM_FULL_COLUMNS,
        [_crm_row(customer_id, index, created) for index, customer_id in enumerate(crm_ids)],
    )
    expected = Expected(people=len(crm_ids) + shop.orphan_buyers, crm_people=len(crm_ids))
    orders = _orders(shop, buyer_ids, rng, expected)
    _write_csv(
        raw_dir / "orders.csv", ORDER_ID_COLUMNS if shop.ids_only else ORDER_FULL_COLUMNS, orders
    )
    if shop.consent_status:
        _write_consents(raw_dir / "consents.csv", crm_ids, shop.consent_status, created)
    # As of the shop's last day, as a daily export would be: with the default range the
    # shapes share the session's vars, and so dbt's saved parse state.
    expected.as_of_date = shop.last_day
    return expected


def _crm_row(customer_id: str, index: int, created: datetime) -> dict[str, str]:
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    stamp = created.strftime("%Y-%m-%d %H:%M:%S")
    return {
        "customer_id": customer_id,
        "email": f"{first}.{last}.{index}@shop-example.org".lower(),
        "phone": f"+1 415 555 {index:04d}",
        "first_name": first,
        "last_name": last,
        "country": "US",
        "created_at": stamp,
        "updated_at": stamp,
    }


def _orders(
    shop: Retail, buyer_ids: list[str], rng: random.Random, expected: Expected
) -> list[dict[str, str]]:
    span = (shop.last_day - shop.first_day).days
    rows = []
    for customer_id in buyer_ids:
        for _ in range(rng.randint(*shop.orders_per_buyer)):
            day = shop.first_day + timedelta(days=rng.randint(0, span))
            status = shop.statuses[len(rows) % len(shop.statuses)]
            total = shop.amount if shop.amount is not None else Decimal(rng.randint(500, 30000))
            total = total if shop.amount is not None else total / 100
            rows.append(
                {
                    "order_id": f"O{len(rows) + 1:06d}",
                    "customer_id": customer_id,
                    "order_ts": f"{day.isoformat()} {rng.randint(8, 20):02d}:15:00",
                    "channel": "web",
                    "status": status,
                    "currency": shop.currency,
                    "order_total": f"{total:.2f}",
                    "discount_amount": "0.00",
                }
            )
            expected.order_days.add(day)
            if status == "completed":
                expected.completed_orders += 1
                expected.completed_total += total
    expected.orders = len(rows)
    expected.completed_buyers = len(
        {row["customer_id"] for row in rows if row["status"] == "completed"}
    )
    return rows


def _write_consents(path: Path, crm_ids: list[str], status: str, created: datetime) -> None:
    stamp = created.strftime("%Y-%m-%d %H:%M:%S")
    rows = [
        {"customer_id": customer_id, "channel": channel, "status": status, "recorded_at": stamp}
        for customer_id in crm_ids
        for channel in ("email", "sms", "ads")
    ]
    _write_csv(path, ("customer_id", "channel", "status", "recorded_at"), rows)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in columns} for row in rows)
