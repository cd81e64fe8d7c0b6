"""Incremental customer intermediates (docs/incremental.md, "Customer intermediates"): the
session's chain of builds (three month ends, with new events and orders becoming visible and
customer keys merged and split in between), and one more run after a new erasure, leave the
incremental models, and the customer_features built on them, exactly as a `--full-refresh` of
those models on the same warehouse does, and the runs recompute only part of the customers.

The full refresh starts from a copy of the chain's warehouse as it was after a date: upstream
(staging, identity) is the chain's own, so any difference is the incremental models' alone.
"""

from __future__ import annotations

import shutil
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from conftest import (
    BUILD_VARS,
    SUCCESSIVE_DATES,
    ChainBuild,
    Workspace,
    linked_workspace,
    make_workspace,
)
from segwarehouse.compare import compare_table

# Incremental per-customer models, and the mart built on them.
INCREMENTAL_MODELS = (
    "intermediate.int_customer_web_sessions",
    "intermediate.int_customer_campaign_events",
)
COMPARED = (*INCREMENTAL_MODELS, "marts.customer_features")
# Identifier types a web session is attributed by.
ATTRIBUTING_TYPES = ("customer_id", "email", "anonymous_id")


@pytest.fixture(scope="module")
def full_refreshes(
    three_date_chain: ChainBuild, generated: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Workspace]:
    """Per incremental date of the chain: its warehouse copied, the incremental models and
    customer_features rebuilt with --full-refresh at that date."""
    rebuilt = {}
    for as_of_date in SUCCESSIVE_DATES[1:]:
        workspace = linked_workspace(tmp_path_factory.mktemp("full_refresh"), generated / "raw")
        shutil.copyfile(three_date_chain.after[as_of_date], workspace.warehouse)
        names = [table.split(".")[1] for table in COMPARED]
        run = workspace.dbt(
            "run", "--full-refresh", "--select", *names,
            dbt_vars={**BUILD_VARS, "as_of_date": as_of_date},
        )  # fmt: skip
        assert run.returncode == 0, run.output
        rebuilt[as_of_date] = workspace
    return rebuilt


@pytest.mark.parametrize("as_of_date", SUCCESSIVE_DATES[1:])
@pytest.mark.parametrize("table", COMPARED)
def test_chain_equals_full_refresh(
    three_date_chain: ChainBuild,
    full_refreshes: dict[str, Workspace],
    as_of_date: str,
    table: str,
) -> None:
    con = duckdb.connect()
    con.execute("attach ? as left_side (read_only)", [str(three_date_chain.after[as_of_date])])
    con.execute("attach ? as right_side (read_only)", [str(full_refreshes[as_of_date].warehouse)])
    compared = compare_table(con, table)
    assert compared.right_rows > 0 and compared.left_rows == compared.right_rows
    assert compared.equal, compared


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_chain_exercises_merges(three_date_chain: ChainBuild) -> None:
    """The equality above covers identity changes: between the dates identifiers a session
    is attributed by moved between customers, some through logged key changes (merges,
    splits), and every customer holding sessions among those was recomputed. (A key change
    that moves only a phone or a loyalty id changes no session: not touched, rightly.)"""
    after = three_date_chain.after
    for previous, as_of_date in pairwise(SUCCESSIVE_DATES):
        con = duckdb.connect()
        con.execute("attach ? as before_run (read_only)", [str(after[previous])])
        con.execute("attach ? as after_run (read_only)", [str(after[as_of_date])])
        [(moved, from_key_changes, untouched)] = con.execute(
            f"""
            with before_map as (
                select identifier_type, identifier_value, customer_sk
                from before_run.intermediate.int_identity_resolved_nodes
                where identifier_type in {ATTRIBUTING_TYPES}
            ),
            after_map as (
                select identifier_type, identifier_value, customer_sk
                from after_run.intermediate.int_identity_resolved_nodes
                where identifier_type in {ATTRIBUTING_TYPES}
            ),
            moved as (
                select distinct customer_sk from (
                    (select * from before_map except select * from after_map)
                    union all
                    (select * from after_map except select * from before_map)
                )
                where customer_sk in (
                    select customer_sk from before_run.intermediate.int_customer_web_sessions
                    union all
                    select customer_sk from after_run.intermediate.int_customer_web_sessions
                )
            ),
            key_changes as (
                select cast('0x' || substr(customer_key, 5) as ubigint) as customer_sk
                from after_run.marts.customer_key_changes where changed_on = ?
                union
                select cast('0x' || substr(previous_customer_key, 5) as ubigint)
                from after_run.marts.customer_key_changes where changed_on = ?
            )
            select
                (select count(*) from moved),
                (select count(*) from moved where customer_sk in (select * from key_changes)),
                (select count(*) from moved where customer_sk not in (
                    select customer_sk
                    from after_run.intermediate.int_customer_web_sessions__touched
                ))
            """,
            [as_of_date, as_of_date],
        ).fetchall()
        assert moved > 0 and from_key_changes > 0, as_of_date
        assert untouched == 0, as_of_date


@pytest.mark.parametrize("table", INCREMENTAL_MODELS)
def test_daily_runs_recompute_part_of_the_customers(
    three_date_chain: ChainBuild, table: str
) -> None:
    """Each incremental run recorded its touched customers: some, not all."""
    for as_of_date in SUCCESSIVE_DATES[1:]:
        [(touched, customers)] = _query(
            three_date_chain.after[as_of_date],
            f"select (select count(*) from {table}__touched),"
            " (select count(*) from intermediate.int_customer_golden_records)",
        )
        assert 0 < touched < customers * 0.75, (as_of_date, touched, customers)


# The erasure day: the chain's last warehouse, one more erasure request landed, the erasure
# list and the incremental models run again; the chain's erasures all predate its first date.
ERASURE_MODELS = (
    "base_privacy__erasure_requests",
    "stg_privacy__erasure_requests",
    "int_identity_erased_customer_keys",
)


def _erased_customer(warehouse: Path) -> tuple[int, str]:
    """A customer with sessions and campaign events, and a CRM customer_id of theirs."""
    [(customer_sk, customer_id)] = _query(
        warehouse,
        """
        select nodes.customer_sk, min(nodes.identifier_value)
        from intermediate.int_identity_resolved_nodes as nodes
        where nodes.identifier_type = 'customer_id' and nodes.customer_sk in (
            select customer_sk from intermediate.int_customer_web_sessions
            intersect
            select customer_sk from intermediate.int_customer_campaign_events
        )
        group by nodes.customer_sk
        order by nodes.customer_sk
        limit 1
        """,
    )
    return customer_sk, customer_id


@pytest.fixture(scope="module")
def erasure_day(
    three_date_chain: ChainBuild, generated: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """The incremental run after a new erasure, and a --full-refresh of it (copies)."""
    as_of_date = SUCCESSIVE_DATES[-1]
    root = tmp_path_factory.mktemp("erasure_day")
    incremental = make_workspace(root / "incremental")
    for path in (generated / "raw").iterdir():
        if path.name != "erasure_requests.csv":
            (incremental.raw_dir / path.name).symlink_to(path)
    customer_sk, customer_id = _erased_customer(three_date_chain.after[as_of_date])
    requests = (generated / "raw" / "erasure_requests.csv").read_text(encoding="utf-8")
    (incremental.raw_dir / "erasure_requests.csv").write_text(
        requests.rstrip("\n") + f"\n{customer_id},,{as_of_date} 08:00:00\n", encoding="utf-8"
    )
    shutil.copyfile(three_date_chain.after[as_of_date], incremental.warehouse)
    dbt_vars = {**BUILD_VARS, "as_of_date": as_of_date}
    models = [table.split(".")[1] for table in INCREMENTAL_MODELS]
    run = incremental.dbt("run", "--select", *ERASURE_MODELS, *models, dbt_vars=dbt_vars)
    assert run.returncode == 0, run.output
    full = make_workspace(root / "full")
    full.raw_dir.rmdir()
    full.raw_dir.symlink_to(incremental.raw_dir)
    shutil.copyfile(incremental.warehouse, full.warehouse)
    run = full.dbt("run", "--full-refresh", "--select", *models, dbt_vars=dbt_vars)
    assert run.returncode == 0, run.output
    return {"incremental": incremental, "full": full, "customer_sk": customer_sk}


@pytest.mark.parametrize("table", INCREMENTAL_MODELS)
def test_erasure_day_equals_full_refresh(erasure_day: dict, table: str) -> None:
    """The erased customer's rows are gone after the incremental run, as after a rebuild,
    and the run recomputed few customers."""
    incremental: Workspace = erasure_day["incremental"]
    customer_sk = erasure_day["customer_sk"]
    assert incremental.query(f"select count(*) from {table} where customer_sk = {customer_sk}") == [
        (0,)
    ]
    [(touched, erased_touched)] = incremental.query(
        f"select count(*), count(*) filter (where customer_sk = {customer_sk})"
        f" from {table}__touched"
    )
    assert erased_touched == 1 and touched < 10, touched
    con = duckdb.connect()
    con.execute("attach ? as left_side (read_only)", [str(incremental.warehouse)])
    con.execute("attach ? as right_side (read_only)", [str(erasure_day["full"].warehouse)])
    compared = compare_table(con, table)
    assert compared.right_rows > 0 and compared.equal, compared
