"""The data-shapes matrix: the whole project on landing folders unlike the demo.

Each shape is a hand-written landing folder (tests/python/shapes.py, not the project's
generator) with its expected outcome written down: either `dbt build` passes, every mart holds
what the raw rows say it must (counted independently in Python), and the refresh gate
publishes; or the build fails on purpose with one line that names the source and what to
change. One build per shape, shared by that shape's checks.

Shapes that only make sense together share a folder ("CRM rows with no orders" and "orders
whose customer ids are not in the CRM file" are one folder: a shop has both at once), and so
do shapes whose properties are independent and whose checks all apply to the one folder (EUR
only with every order the same amount; every consent denied with the disjoint files; fifty
customers who each buy once): each build costs about half a minute of the suite.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import NO_UNIT_TESTS, DbtRun, Workspace, make_workspace
from segwarehouse import publish
from shapes import Expected, Retail, write

EUR_RATE = Decimal("1.08")  # seeds/reference/currency_rates.csv


@dataclass(frozen=True)
class Shape:
    """A landing folder, the vars it is built with, and what must come out."""

    shop: Retail
    checks: tuple[Callable[[Workspace, Expected], None], ...] = ()
    dbt_vars: dict[str, str] = field(default_factory=dict)
    fails_with: tuple[str, ...] = ()  # fragments of the one line a failing build prints
    rate: Decimal = Decimal(1)


# --- checks shared by every passing shape -------------------------------------------------------


def one(workspace: Workspace, sql: str) -> object:
    [(value,)] = workspace.query(sql)
    return value


def check_sources_reconcile(workspace: Workspace, expected: Expected) -> None:
    rows = workspace.query(
        "select source_name, raw_rows, quarantined_rows, is_reconciled "
        "from audit.source_reconciliation where source_name in ('crm_customers', 'orders')"
    )
    assert {name: (raw, quarantined) for name, raw, quarantined, _ in rows} == {
        "crm_customers": (expected.crm_people, 0),
        "orders": (expected.orders, 0),
    }
    assert all(reconciled for *_, reconciled in rows)


def check_people(workspace: Workspace, expected: Expected) -> None:
    for mart in ("dim_customers", "customer_features", "customer_rfm"):
        assert one(workspace, f"select count(*) from marts.{mart}") == expected.people, mart


def check_orders(workspace: Workspace, expected: Expected, rate: Decimal) -> None:
    count, completed, total = workspace.query(
        "select count(*), count(*) filter (where is_completed), "
        "coalesce(sum(order_total) filter (where is_completed), 0) from marts.fct_orders"
    )[0]
    assert (count, completed) == (expected.orders, expected.completed_orders)
    assert abs(Decimal(str(total)) - expected.completed_total * rate) < Decimal("0.05")


def check_rfm(workspace: Workspace, expected: Expected) -> None:
    scored, prospects, out_of_range = workspace.query(
        "select count(*) filter (where r_score is not null and f_score is not null "
        "and m_score is not null), count(*) filter (where rfm_segment = 'Prospect'), "
        "count(*) filter (where r_score not between 1 and 5 or f_score not between 1 and 5 "
        "or m_score not between 1 and 5) from marts.customer_rfm"
    )[0]
    assert scored == expected.completed_buyers
    assert prospects == expected.people - expected.completed_buyers
    assert out_of_range == 0


def check_segments(workspace: Workspace, expected: Expected) -> None:
    without_segment = one(
        workspace,
        "select count(*) from marts.customer_features as f where not exists "
        "(select 1 from marts.segment_membership as m where m.customer_key = f.customer_key)",
    )
    assert without_segment == 0
    assert one(workspace, "select count(*) from marts.segment_health") > 0


def check_refresh_gate(workspace: Workspace, expected: Expected) -> None:
    serving = workspace.scratch / "serving.duckdb"
    code, record = publish.refresh(
        workspace.warehouse,
        serving,
        expected.as_of_date,
        None,
        docs_dir=workspace.scratch / "docs",
        log=lambda _line: None,
    )
    assert (code, record.failures) == (publish.EXIT_OK, []), record.failures
    assert serving.is_file()


# --- checks of one shape -----------------------------------------------------------------------


def check_old_history(workspace: Workspace, expected: Expected) -> None:
    [(first, last)] = workspace.query(
        "select min(order_date), max(order_date) from marts.fct_orders"
    )
    assert first.year == 1994 and last.year == 1997
    assert one(workspace, "select count(*) from marts.customer_clv") == expected.completed_buyers


def check_no_buyers(workspace: Workspace, expected: Expected) -> None:
    assert expected.completed_buyers == 0
    assert one(workspace, "select count(*) from marts.customer_clv") == 0
    assert one(workspace, "select count(distinct lifecycle_stage) from marts.customer_rfm") == 1


def check_equal_scores(workspace: Workspace, _expected: Expected) -> None:
    """Every order the same amount: equal values always get equal monetary scores."""
    assert (
        one(
            workspace,
            "select count(distinct avg_order_value) from marts.customer_features "
            "where avg_order_value is not null",
        )
        == 1
    )


def check_one_day(workspace: Workspace, expected: Expected) -> None:
    assert len(expected.order_days) == 1
    assert one(workspace, "select max(recency_days) from marts.customer_features") == 0


def check_no_consent_no_export(workspace: Workspace, _expected: Expected) -> None:
    assert (
        one(
            workspace,
            "select count(*) from marts.dim_customers where has_email_consent "
            "or has_sms_consent or has_ads_consent",
        )
        == 0
    )
    assert one(workspace, "select count(*) from marts.audience_exports") == 0


def check_disjoint_files(workspace: Workspace, expected: Expected) -> None:
    outside_crm = one(
        workspace, "select count(*) from marts.dim_customers where not is_crm_customer"
    )
    assert outside_crm == expected.people - expected.crm_people
    never_bought = one(
        workspace, "select count(*) from marts.customer_rfm where rfm_segment = 'Prospect'"
    )
    assert never_bought == expected.people - expected.completed_buyers


OLD = {"first_day": date(1994, 1, 3), "last_day": date(1997, 12, 31)}
SHAPES: dict[str, Shape] = {
    "ids_only_1994_1997": Shape(Retail(customers=120, ids_only=True, **OLD), (check_old_history,)),
    "one_customer": Shape(Retail(customers=1, orders_per_buyer=(3, 3))),
    "fifty_one_time_buyers": Shape(Retail(customers=50, orders_per_buyer=(1, 1))),
    "no_completed_orders": Shape(
        Retail(customers=40, statuses=("cancelled", "returned")), (check_no_buyers,)
    ),
    "one_day_of_history": Shape(
        Retail(customers=40, first_day=date(2026, 6, 30), last_day=date(2026, 6, 30)),
        (check_one_day,),
    ),
    "eur_only_same_amount": Shape(
        Retail(customers=60, currency="EUR", amount=Decimal("25.00")),
        (check_equal_scores,),
        rate=EUR_RATE,
    ),
    "very_large_amounts": Shape(
        Retail(customers=60, amount=Decimal("99999.99"), orders_per_buyer=(20, 40))
    ),
    "consent_denied_crm_without_orders_orders_without_crm": Shape(
        Retail(customers=60, buyers=30, orphan_buyers=20, consent_status="revoked"),
        (check_no_consent_no_export, check_disjoint_files),
    ),
    "every_order_quarantined": Shape(
        Retail(customers=60, **OLD),
        dbt_vars={"segments__earliest_plausible_date": "2000-01-01"},
        fails_with=(
            "orders: 100.0% of ",
            "raw rows quarantined, above the limit of 5.0%",
            "implausibly_old_timestamp",
            "segments__earliest_plausible_date",
        ),
    ),
}


@dataclass
class Built:
    workspace: Workspace
    expected: Expected
    run: DbtRun


class Matrix:
    """One landing folder and one `dbt build` per shape, made on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.cache  # noqa: B019 - one Matrix per module, it lives as long as the builds
    def build(self, name: str) -> Built:
        shape = SHAPES[name]
        workspace = make_workspace(self.root / name)
        expected = write(shape.shop, workspace.raw_dir)
        loaded_at = expected.as_of_date + timedelta(days=1)
        dbt_vars = {
            "as_of_date": expected.as_of_date.isoformat(),
            "segments__loaded_at": f"{loaded_at.isoformat()} 00:00:00",
            **shape.dbt_vars,
        }
        return Built(workspace, expected, workspace.dbt("build", *NO_UNIT_TESTS, dbt_vars=dbt_vars))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, dbt_project: Path) -> Matrix:
    return Matrix(tmp_path_factory.mktemp("shapes"))


def spread(names: list[str]) -> list[object]:
    """One xdist group per shape: the shapes share nothing but a tmp folder, so the two test
    workers split them (each shape is one dbt build)."""
    return [pytest.param(name, marks=pytest.mark.xdist_group(f"shape-{name}")) for name in names]


@pytest.mark.parametrize("name", spread([n for n, s in SHAPES.items() if not s.fails_with]))
def test_shape_builds_and_every_mart_holds_what_it_should(matrix: Matrix, name: str) -> None:
    built, shape = matrix.build(name), SHAPES[name]
    assert built.run.returncode == 0, built.run.output[-4000:]
    check_sources_reconcile(built.workspace, built.expected)
    check_people(built.workspace, built.expected)
    check_orders(built.workspace, built.expected, shape.rate)
    check_rfm(built.workspace, built.expected)
    check_segments(built.workspace, built.expected)
    for check in shape.checks:
        check(built.workspace, built.expected)
    check_refresh_gate(built.workspace, built.expected)


@pytest.mark.parametrize("name", spread([n for n, s in SHAPES.items() if s.fails_with]))
def test_shape_fails_on_purpose_with_one_clear_line(matrix: Matrix, name: str) -> None:
    built, shape = matrix.build(name), SHAPES[name]
    assert built.run.returncode != 0
    lines = [line for line in built.run.output.splitlines() if shape.fails_with[0] in line]
    assert len(lines) == 1, built.run.output[-4000:]
    assert all(fragment in lines[0] for fragment in shape.fails_with), lines[0]
    assert "Traceback" not in built.run.output
