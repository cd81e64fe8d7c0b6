"""RFM, segment membership and its history on generated data: scores recomputed independently,
entries and exits over three successive builds, a broken segment rule named in one line, and
membership reproducible from the same inputs and as_of_date."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import (
    BUILD_VARS,
    PROJECT_DIR,
    SUCCESSIVE_DATES,
    ChainBuild,
    Workspace,
    copied_workspace,
    customer_keys,
    frame,
)

MEMBERSHIP_COLUMNS = (
    "customer_key, segment_id, segment_family, exclusivity_group, segment_name, "
    "segment_version, priority, is_primary, is_fallback, as_of_date"
)


def canonical(rows: list[tuple]) -> list[tuple]:
    """Rows in a fixed order (nulls allowed)."""
    return sorted(rows, key=repr)


def quintile_scores(values: pd.Series, best: str) -> pd.Series:
    """1 + floor(5 * share of values strictly worse): ties share the lowest rank of their block."""
    strictly_worse = values.rank(method="min", ascending=(best == "highest")) - 1
    return (1 + (5 * strictly_worse) // len(values)).astype("int64")


def test_rfm_scores_match_an_independent_pandas_computation(built: Workspace) -> None:
    features = frame(
        built,
        "select customer_key, is_prospect, recency_days, purchase_days, "
        "cast(net_revenue * 100 as bigint) as net_revenue_cents from marts.customer_features",
    ).set_index("customer_key")
    rfm = frame(
        built,
        "select customer_key, r_score, f_score, m_score, rfm_cell, rfm_segment "
        "from marts.customer_rfm",
    ).set_index("customer_key")
    assert len(rfm) == len(features)

    buyers = features[~features["is_prospect"]]
    assert len(buyers) > 500
    expected = pd.DataFrame(
        {
            "r_score": quintile_scores(buyers["recency_days"], best="lowest"),
            "f_score": quintile_scores(buyers["purchase_days"], best="highest"),
            "m_score": quintile_scores(buyers["net_revenue_cents"], best="highest"),
        }
    )
    scored = rfm.loc[buyers.index, ["r_score", "f_score", "m_score"]].astype("int64")
    pd.testing.assert_frame_equal(scored.sort_index(), expected.sort_index())

    # Roughly a fifth of buyers per monetary score (net revenue has few ties).
    shares = expected["m_score"].value_counts(normalize=True)
    assert shares.between(0.15, 0.25).all(), shares

    # Each cell named by the one rectangle of the R-by-F grid in the seed that holds it.
    with (PROJECT_DIR / "seeds" / "segments" / "rfm_segment_map.csv").open() as handle:
        grid = list(csv.DictReader(handle))

    def segment_of(r_score: int, f_score: int) -> str:
        [name] = [
            row["rfm_segment"]
            for row in grid
            if int(row["r_score_min"]) <= r_score <= int(row["r_score_max"])
            and int(row["f_score_min"]) <= f_score <= int(row["f_score_max"])
        ]
        return name

    named = rfm.loc[expected.index]
    cells = zip(expected["r_score"], expected["f_score"], strict=True)
    assert (named["rfm_segment"] == [segment_of(r, f) for r, f in cells]).all()
    assert (named["rfm_cell"] == expected.astype(str).agg("".join, axis=1)).all()

    prospects = rfm.loc[features.index[features["is_prospect"]]]
    assert len(prospects) > 0
    assert prospects[["r_score", "f_score", "m_score", "rfm_cell"]].isna().all().all()
    assert (prospects["rfm_segment"] == "Prospect").all()


def test_clv_inputs_match_an_independent_pandas_computation(built: Workspace) -> None:
    orders = frame(
        built,
        "select customer_sk, order_date, cast(order_total_reporting as double) as total "
        "from intermediate.int_customer_orders where is_completed",
    )
    orders["customer_key"] = customer_keys(orders.pop("customer_sk"))
    days = orders.groupby(["customer_key", "order_date"], as_index=False)["total"].sum()
    days = days.sort_values(["customer_key", "order_date"])
    days["day_number"] = days.groupby("customer_key").cumcount()
    as_of = pd.Timestamp(BUILD_VARS["as_of_date"])
    first = days.groupby("customer_key")["order_date"].min()
    last = days.groupby("customer_key")["order_date"].max()
    expected = pd.DataFrame(
        {
            "frequency": days.groupby("customer_key").size() - 1,
            "recency_clv_days": (pd.to_datetime(last) - pd.to_datetime(first)).dt.days,
            "age_clv_days": (as_of - pd.to_datetime(first)).dt.days,
            "monetary_clv": days[days["day_number"] > 0]
            .groupby("customer_key")["total"]
            .mean()
            .reindex(first.index, fill_value=0.0),
        }
    )
    rfm = frame(
        built,
        "select customer_key, frequency, recency_clv_days, age_clv_days, monetary_clv "
        "from marts.customer_rfm where frequency is not null",
    ).set_index("customer_key")
    assert set(rfm.index) == set(expected.index)
    actual = rfm.loc[expected.index]
    for column in ("frequency", "recency_clv_days", "age_clv_days"):
        assert (actual[column].astype("int64") == expected[column].astype("int64")).all(), column
    assert (actual["monetary_clv"] - expected["monetary_clv"]).abs().max() < 1e-6


@dataclass
class SuccessiveBuilds:
    """One warehouse built at SUCCESSIVE_DATES in order, with what each build published."""

    workspace: Workspace
    memberships: dict[str, set[tuple]]
    history: list[tuple]
    successors: dict[str, str]


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def successive_builds(three_date_chain: ChainBuild) -> SuccessiveBuilds:
    """The shared chain: the membership each build published, and the history after the last."""
    after = three_date_chain.after
    memberships = {
        as_of_date: set(rows(path, "select customer_key, segment_id from marts.segment_membership"))
        for as_of_date, path in after.items()
    }
    history = canonical(
        rows(after[SUCCESSIVE_DATES[-1]], "select * from marts.segment_membership_history")
    )
    successors = dict(
        rows(
            after[SUCCESSIVE_DATES[-1]],
            "select previous_customer_key, customer_key from marts.customer_key_successors",
        )
    )
    return SuccessiveBuilds(three_date_chain.workspace, memberships, history, successors)


def followed(memberships: set[tuple], successors: dict[str, str]) -> set[tuple]:
    """(customer_key, segment_id) pairs with every key a merge retired replaced by the key
    that carries on its customer."""
    return {(successors.get(key, key), segment_id) for key, segment_id in memberships}


def expected_spells(memberships: dict[str, set[tuple]]) -> set[tuple]:
    """Spells (customer_key, segment_id, valid_from, valid_to, last_seen_on) from snapshots."""
    dates = sorted(memberships)
    spells = set()
    for member in set().union(*memberships.values()):
        start = None
        for index, as_of_date in enumerate(dates):
            present = member in memberships[as_of_date]
            if present and start is None:
                start = as_of_date
            if start is not None and not present:
                spells.add((*member, start, as_of_date, dates[index - 1]))
                start = None
        if start is not None:
            spells.add((*member, start, None, dates[-1]))
    return spells


def test_history_has_entries_and_exits_matching_each_build(
    successive_builds: SuccessiveBuilds,
) -> None:
    rows = successive_builds.workspace.query(
        "select customer_key, segment_id, cast(valid_from as varchar), "
        "cast(valid_to as varchar), cast(last_seen_on as varchar) "
        "from marts.segment_membership_history"
    )
    # A merged customer's spells continue under the surviving key (see the test below).
    memberships = {
        as_of_date: followed(members, successive_builds.successors)
        for as_of_date, members in successive_builds.memberships.items()
    }
    assert set(rows) == expected_spells(memberships)
    assert len(rows) == len(set(rows))
    _, second, third = SUCCESSIVE_DATES
    entries = {date: sum(1 for row in rows if row[2] == date) for date in (second, third)}
    exits = {date: sum(1 for row in rows if row[3] == date) for date in (second, third)}
    assert min(entries.values()) > 0, entries
    assert min(exits.values()) > 0, exits
    # Exits in every family (rules, RFM, lifecycle and churn risk move every month).
    [(families,)] = successive_builds.workspace.query(
        "select count(distinct segment_family) from marts.segment_membership_history "
        f"where valid_to = '{third}'"
    )
    assert families == 4


def test_history_follows_merged_customers(
    successive_builds: SuccessiveBuilds, three_date_chain: ChainBuild
) -> None:
    """A key retired by a merge leaves no spell behind: the customer's spells moved to the
    surviving key, which shows them from the first build that had either key in the segment."""
    first, second, third = SUCCESSIVE_DATES
    retired = successive_builds.successors
    last = three_date_chain.after[third]
    left_behind = rows(
        last,
        "select count(*) from marts.segment_membership_history where customer_key in "
        "(select previous_customer_key from marts.customer_key_successors)",
    )
    assert left_behind == [(0,)]
    starts = {
        (key, segment_id): valid_from
        for key, segment_id, valid_from in rows(
            last,
            "select customer_key, segment_id, cast(valid_from as varchar) "
            "from marts.segment_membership_history where valid_to is null",
        )
    }
    carried = 0
    for key, segment_id in successive_builds.memberships[second]:
        survivor = retired.get(key)
        if survivor is None or (survivor, segment_id) not in successive_builds.memberships[third]:
            continue
        # In the segment at the second build under the retired key and at the third under the
        # surviving one: one spell, begun no later than the retired key's.
        began = first if (key, segment_id) in successive_builds.memberships[first] else second
        assert starts.get((survivor, segment_id), "9999") <= began, (key, survivor, segment_id)
        carried += 1
    assert carried > 0


def test_history_refuses_an_earlier_as_of_date(successive_builds: SuccessiveBuilds) -> None:
    run = successive_builds.workspace.dbt(
        "run",
        "--select",
        "segment_membership_history",
        dbt_vars={**BUILD_VARS, "as_of_date": SUCCESSIVE_DATES[0]},
    )
    assert run.returncode != 0
    assert f"is recorded through {SUCCESSIVE_DATES[-1]}" in run.output
    history = successive_builds.workspace.query("select * from marts.segment_membership_history")
    assert canonical(history) == successive_builds.history


def test_membership_is_reproducible(built: Workspace, successive_builds: SuccessiveBuilds) -> None:
    """Same raw data and as_of_date: the same rows, whether built fresh or after two earlier
    builds into the same warehouse."""
    query = f"select {MEMBERSHIP_COLUMNS} from marts.segment_membership"
    fresh = canonical(built.query(query))
    assert len(fresh) > 5_000
    assert canonical(successive_builds.workspace.query(query)) == fresh


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ("nett_revenue > 500", 'Referenced column "nett_revenue" not found'),
        ("net_revenue >> 500 or", "does not parse"),
        ("net_revenue", "is not a boolean expression"),
        ("sum(net_revenue) > 500", "aggregate function sum"),
        ("recency_days > 180 and net_revenue > 'lots'", "fails while running"),
    ],
)
def test_a_broken_rule_stops_the_build_naming_the_segment(
    built: Workspace, tmp_path: Path, rule: str, complaint: str
) -> None:
    workspace = copied_workspace(built, tmp_path / "broken_rule")
    with duckdb.connect(str(workspace.warehouse)) as con:
        con.execute(
            "update reference.segment_definitions set rule = ? where segment_id = 'win_back'",
            [rule],
        )
    run = workspace.dbt("run", "--select", "segment_membership", dbt_vars=BUILD_VARS)
    assert run.returncode != 0
    [message] = [line for line in run.output.splitlines() if "segment_definitions:" in line]
    assert "the rule of segment 'win_back'" in message
    assert complaint in message
