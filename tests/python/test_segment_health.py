"""Segment health marts on generated data, built at three successive as_of_dates.

Every figure is recomputed independently from what each build published (segment_membership,
customer_features, customer_clv, customer_churn_scores): entered / exited / stayed and the
Jaccard index from sets, migration counts from the published primary segments, overlap pairs
from a pandas self-merge, PSI with numpy on the reference run's quantile edges. Then a rerun
at the same as_of_date must change nothing, a deliberately shrunk segment must raise
size_jump and below_min_size, and dates out of order must stop the build.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import (
    BUILD_VARS,
    PROJECT_DIR,
    SUCCESSIVE_DATES,
    ChainBuild,
    Workspace,
    frame,
    linked_workspace,
)

HEALTH_TABLES = (
    "segment_health_runs",
    "segment_health",
    "segment_migration",
    "segment_overlap",
    "segment_feature_bins",
    "segment_feature_drift",
)
VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
DRIFT_FEATURES: list[str] = VARS["health__drift_features"]
CONVERSION_DAYS: int = VARS["health__conversion_window_days"]


@dataclass
class Snapshot:
    """What one build published, as read right after it."""

    membership: pd.DataFrame
    features: pd.DataFrame
    clv: pd.DataFrame
    churn: pd.DataFrame
    erased: set[str]
    successors: dict[str, str]


@dataclass
class HealthBuilds:
    """One warehouse built at SUCCESSIVE_DATES in order, with each build's inputs and the
    health tables after the last build."""

    workspace: Workspace
    snapshots: dict[str, Snapshot]
    tables: dict[str, list[tuple]]
    after: dict[str, Path]


def canonical(rows: list[tuple]) -> list[tuple]:
    """Rows in a fixed order (nulls allowed)."""
    return sorted(rows, key=repr)


def stable(value: object) -> object:
    """A double to 10 significant digits (parallel sums may differ in the last bits)."""
    if isinstance(value, float) and value == value:
        return float(f"{value:.10g}")
    return value


def query(source: Workspace | Path, sql: str) -> list[tuple]:
    """Rows of a query (read-only) on a workspace's warehouse or a database file."""
    warehouse = source.warehouse if isinstance(source, Workspace) else source
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def table_rows(source: Workspace | Path) -> dict[str, list[tuple]]:
    """Every row of every health table (of a workspace's warehouse or a database file)."""
    return {
        table: canonical(
            [
                tuple(stable(value) for value in row)
                for row in query(source, f"select * from marts.{table}")
            ]
        )
        for table in HEALTH_TABLES
    }


def snapshot(workspace: Path) -> Snapshot:
    feature_columns = ", ".join(
        dict.fromkeys([*DRIFT_FEATURES, "net_revenue", "order_count", f"orders_{CONVERSION_DAYS}d"])
    )
    return Snapshot(
        membership=frame(
            workspace,
            "select customer_key, segment_id, segment_family, exclusivity_group, is_primary, "
            "is_fallback from marts.segment_membership",
        ),
        features=frame(
            workspace, f"select customer_key, {feature_columns} from marts.customer_features"
        ),
        clv=frame(workspace, "select customer_key, clv from marts.customer_clv"),
        churn=frame(
            workspace, "select customer_key, churn_probability from marts.customer_churn_scores"
        ),
        erased=set(
            frame(
                workspace, "select customer_key from intermediate.int_identity_erased_customer_keys"
            )["customer_key"]
        ),
        successors=dict(
            query(
                workspace,
                "select previous_customer_key, customer_key from marts.customer_key_successors",
            )
        ),
    )


def followed(membership: pd.DataFrame, now: Snapshot) -> pd.DataFrame:
    """An earlier build's membership with every key a merge has retired since replaced by its
    successor at `now`: the history moves a merged customer's spells to the surviving key."""
    return membership.assign(
        customer_key=membership["customer_key"].map(lambda key: now.successors.get(key, key))
    )


@pytest.fixture(scope="module")
def health_builds(three_date_chain: ChainBuild) -> HealthBuilds:
    """The shared chain, with each build's inputs read from its copy."""
    after = three_date_chain.after
    snapshots = {as_of_date: snapshot(path) for as_of_date, path in after.items()}
    tables = table_rows(after[SUCCESSIVE_DATES[-1]])
    return HealthBuilds(three_date_chain.workspace, snapshots, tables, after)


def members_by_segment(membership: pd.DataFrame) -> dict[str, set[str]]:
    return {
        segment_id: set(group["customer_key"])
        for segment_id, group in membership.groupby("segment_id")
    }


def health_at(builds: HealthBuilds, as_of_date: str) -> pd.DataFrame:
    return frame(
        builds.workspace, f"select * from marts.segment_health where as_of_date = '{as_of_date}'"
    ).set_index("segment_id")


def test_sizes_entries_exits_and_stability_match_membership_sets(
    health_builds: HealthBuilds,
) -> None:
    first = health_at(health_builds, SUCCESSIVE_DATES[0])
    assert first["entered"].isna().all() and first["previous_members"].isna().all()
    assert first["previous_as_of_date"].isna().all()

    for previous_date, as_of_date in pairwise(SUCCESSIVE_DATES):
        before = health_builds.snapshots[previous_date]
        now = health_builds.snapshots[as_of_date]
        # Erasure reaches the history: an erased customer's spells are gone, so they are
        # counted neither before nor as an exit.
        previous = {
            segment_id: members - now.erased
            for segment_id, members in members_by_segment(followed(before.membership, now)).items()
        }
        current = members_by_segment(now.membership)
        health = health_at(health_builds, as_of_date)
        customers = now.features["customer_key"].nunique()

        expected_segments = set(current) | {s for s, members in previous.items() if members}
        assert expected_segments <= set(health.index)
        assert (health.loc[list(set(health.index) - set(current)), "members"] == 0).all()
        assert (health["previous_as_of_date"].astype(str) == previous_date).all()

        moved = 0
        for segment_id in expected_segments:
            was, now_in = previous.get(segment_id, set()), current.get(segment_id, set())
            row = health.loc[segment_id]
            assert row["members"] == len(now_in), segment_id
            assert row["member_share"] == pytest.approx(len(now_in) / customers)
            assert row["previous_members"] == len(was), segment_id
            assert row["entered"] == len(now_in - was), segment_id
            assert row["exited"] == len(was - now_in), segment_id
            assert row["stayed"] == len(was & now_in), segment_id
            union = was | now_in
            assert row["jaccard_with_previous"] == pytest.approx(len(was & now_in) / len(union))
            if was:
                assert row["decay_rate"] == pytest.approx(len(was - now_in) / len(was))
                assert row["size_change_share"] == pytest.approx(len(now_in) / len(was) - 1)
            moved += len(now_in ^ was)
        assert moved > 0


def test_member_metrics_match_pandas(health_builds: HealthBuilds) -> None:
    as_of_date = SUCCESSIVE_DATES[-1]
    now = health_builds.snapshots[as_of_date]
    members = (
        now.membership[["customer_key", "segment_id"]]
        .merge(now.features, on="customer_key")
        .merge(now.clv, on="customer_key", how="left")
        .merge(now.churn, on="customer_key", how="left")
    )
    members["converted"] = members[f"orders_{CONVERSION_DAYS}d"] > 0
    members["net_revenue"] = members["net_revenue"].astype(float)
    expected = members.groupby("segment_id").agg(
        net_revenue=("net_revenue", "sum"),
        orders=("order_count", "sum"),
        conversion_rate=("converted", "mean"),
        mean_clv=("clv", "mean"),
        mean_churn_probability=("churn_probability", "mean"),
    )
    health = health_at(health_builds, as_of_date).loc[expected.index]
    assert np.allclose(health["net_revenue"].astype(float), expected["net_revenue"], atol=0.01)
    with np.errstate(invalid="ignore", divide="ignore"):
        aov = (expected["net_revenue"] / expected["orders"]).replace(np.inf, np.nan)
    for column, values in [
        ("avg_order_value", aov),
        ("conversion_rate", expected["conversion_rate"]),
        ("mean_clv", expected["mean_clv"]),
        ("mean_churn_probability", expected["mean_churn_probability"]),
    ]:
        actual = health[column].astype(float).to_numpy()
        assert np.allclose(actual, values.astype(float).to_numpy(), equal_nan=True), column
    # Buyers convert, prospects do not: the figures are not all alike.
    assert health["conversion_rate"].max() > 0.5
    assert health.loc["rfm_prospect", "conversion_rate"] == 0


def test_migration_matches_published_primary_segments(health_builds: HealthBuilds) -> None:
    migration = frame(health_builds.workspace, "select * from marts.segment_migration")
    priorities = dict(
        query(
            health_builds.workspace,
            "select segment_id, priority from reference.segment_definitions",
        )
    )
    merged = 0
    assert set(migration["as_of_date"].astype(str)) == set(SUCCESSIVE_DATES[1:])
    for previous_date, as_of_date in pairwise(SUCCESSIVE_DATES):
        before = health_builds.snapshots[previous_date]
        now = health_builds.snapshots[as_of_date]
        columns = ["customer_key", "exclusivity_group", "segment_id"]
        merged += before.membership["customer_key"].isin(now.successors.keys()).sum()
        was = followed(before.membership, now).loc[before.membership["is_primary"], columns]
        was = was[~was["customer_key"].isin(now.erased)]
        # Two merged customers had a primary each: the history holds both memberships, and the
        # previous primary is the one segment_membership would pick (priority, then id).
        was = (
            was.assign(priority=was["segment_id"].map(priorities))
            .sort_values(["priority", "segment_id"], na_position="last")
            .drop_duplicates(["customer_key", "exclusivity_group"])[columns]
        )
        is_now = now.membership.loc[now.membership["is_primary"], columns]
        pairs = was.merge(
            is_now, on=["customer_key", "exclusivity_group"], how="outer", suffixes=("_from", "_to")
        )
        expected = (
            pairs.fillna({"segment_id_from": "<none>", "segment_id_to": "<none>"})
            .groupby(["exclusivity_group", "segment_id_from", "segment_id_to"])
            .size()
        )
        actual = migration[migration["as_of_date"].astype(str) == as_of_date].fillna(
            {"from_segment_id": "<none>", "to_segment_id": "<none>"}
        )
        assert (actual["previous_as_of_date"].astype(str) == previous_date).all()
        actual = actual.set_index(["exclusivity_group", "from_segment_id", "to_segment_id"])
        assert actual["customers"].to_dict() == expected.to_dict()
        rates = expected / expected.groupby(level=[0, 1]).transform("sum")
        assert np.allclose(actual.loc[rates.index, "transition_rate"], rates)
        # Customers really move between RFM segments from month to month.
        rfm = actual.loc["rfm"]
        assert (rfm["transition_type"] == "moved").any()
        assert set(actual["transition_type"]) <= {"stayed", "moved", "arrived", "left"}
    # Customers merged between builds: their previous primary came from the moved history.
    assert merged > 0


def test_overlap_pairs_match_pandas(health_builds: HealthBuilds) -> None:
    now = health_builds.snapshots[SUCCESSIVE_DATES[-1]]
    membership = now.membership
    sizes = membership.groupby("segment_id").size()
    pairs = membership[["customer_key", "segment_id"]].merge(
        membership[["customer_key", "segment_id"]], on="customer_key", suffixes=("", "_other")
    )
    pairs = pairs[pairs["segment_id"] != pairs["segment_id_other"]]
    shared = pairs.groupby(["segment_id", "segment_id_other"]).size()

    overlap = frame(health_builds.workspace, "select * from marts.segment_overlap").set_index(
        ["segment_id", "other_segment_id"]
    )
    assert len(overlap) == len(sizes) * (len(sizes) - 1)
    expected_shared = shared.reindex(overlap.index, fill_value=0)
    assert (overlap["shared_members"] == expected_shared).all()
    members = sizes.reindex(overlap.index.get_level_values(0)).to_numpy()
    others = sizes.reindex(overlap.index.get_level_values(1)).to_numpy()
    jaccard = expected_shared.to_numpy() / (members + others - expected_shared.to_numpy())
    assert np.allclose(overlap["jaccard_index"], jaccard)
    assert np.allclose(overlap["share_of_members"], expected_shared.to_numpy() / members)

    # The alert: judged pairs at or above the threshold, and segment_health carries it.
    fallback = membership.groupby("segment_id")["is_fallback"].any()
    family = membership.groupby("segment_id")["segment_family"].first()
    allowlisted = {("high_value_classic", "high_value_improved")}
    judged = {
        (a, b)
        for a, b in overlap.index
        if not (fallback[a] or fallback[b])
        and {family[a], family[b]} & set(VARS["health__overlap_alert_families"])
        and (a, b) not in allowlisted
        and (b, a) not in allowlisted
    }
    assert {pair for pair in overlap.index if overlap.loc[pair, "is_judged"]} == judged
    high = {
        pair for pair in judged if jaccard_of(overlap, pair) >= VARS["health__overlap_alert_share"]
    }
    assert {pair for pair in overlap.index if overlap.loc[pair, "is_high_overlap"]} == high
    # The allowlisted pair is nearly the same audience, and still raises nothing.
    assert jaccard_of(overlap, ("high_value_classic", "high_value_improved")) > 0.9
    health = health_at(health_builds, SUCCESSIVE_DATES[-1])
    flagged = {a for a, _ in high}
    alerted = {s for s, alerts in health["alerts"].items() if "high_overlap" in str(alerts)}
    assert alerted == flagged
    assert "high_value_classic" not in alerted


def jaccard_of(overlap: pd.DataFrame, pair: tuple[str, str]) -> float:
    return float(overlap.loc[pair, "jaccard_index"])


def reference_edges(values: pd.Series, bins: int) -> np.ndarray:
    """Distinct population quantiles (the inverted CDF, as DuckDB's quantile_disc)."""
    present = values.dropna().astype(float).to_numpy()
    quantiles = np.quantile(
        present, [step / bins for step in range(1, bins)], method="inverted_cdf"
    )
    return np.unique(quantiles)


def bin_shares(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Shares of bin 0 (nulls), then below the first edge, [edge i-1, edge i), last edge up."""
    present = values.notna().to_numpy()
    index = np.zeros(len(values), dtype=int)
    index[present] = np.searchsorted(edges, values[present].astype(float), side="right") + 1
    counts = np.bincount(index, minlength=len(edges) + 2)
    return counts / len(values)


def day(value: object) -> str:
    """A date read through pandas as 'YYYY-MM-DD'."""
    return pd.Timestamp(value).date().isoformat()


def psi(shares: np.ndarray, previous: np.ndarray, epsilon: float) -> float:
    current, before = np.maximum(shares, epsilon), np.maximum(previous, epsilon)
    return float(np.sum((current - before) * np.log(current / before)))


def test_feature_drift_matches_a_numpy_psi(health_builds: HealthBuilds) -> None:
    reference = health_builds.snapshots[SUCCESSIVE_DATES[0]].features
    edges = {
        feature: reference_edges(reference[feature], VARS["health__drift_bins"])
        for feature in DRIFT_FEATURES
    }
    recorded = frame(
        health_builds.workspace,
        "select distinct feature, bin_index, bin_upper, reference_as_of_date "
        "from marts.segment_feature_bins where bin_upper is not null",
    )
    assert (recorded["reference_as_of_date"].astype(str) == SUCCESSIVE_DATES[0]).all()
    for feature, feature_edges in edges.items():
        stored = recorded[recorded["feature"] == feature].sort_values("bin_index")
        assert np.allclose(stored["bin_upper"].to_numpy(), feature_edges), feature

    shares: dict[tuple[str, str, str], np.ndarray] = {}
    for as_of_date, snap in health_builds.snapshots.items():
        members = snap.membership[["customer_key", "segment_id"]].merge(
            snap.features, on="customer_key"
        )
        for segment_id, group in members.groupby("segment_id"):
            for feature in DRIFT_FEATURES:
                shares[as_of_date, segment_id, feature] = bin_shares(
                    group[feature].reset_index(drop=True), edges[feature]
                )

    drift = frame(health_builds.workspace, "select * from marts.segment_feature_drift")
    assert set(drift["as_of_date"].astype(str)) == set(SUCCESSIVE_DATES[1:])
    epsilon = VARS["health__psi_epsilon"]
    checked = 0
    for row in drift.itertuples():
        key = (day(row.as_of_date), row.segment_id, row.feature)
        before = (day(row.previous_as_of_date), row.segment_id, row.feature)
        if before not in shares:
            assert pd.isna(row.population_stability_index)
            continue
        expected = psi(shares[key], shares[before], epsilon)
        assert row.population_stability_index == pytest.approx(expected, rel=1e-9, abs=1e-12)
        judged = min(row.members, row.previous_members) >= VARS["health__drift_min_members"]
        assert row.is_drift_alert == (judged and expected >= VARS["health__psi_alert_threshold"])
        checked += 1
    assert checked > 100
    # Not everything is stable, not everything drifts.
    values = drift["population_stability_index"].dropna()
    assert values.max() > 0.05 and values.median() < VARS["health__psi_alert_threshold"]

    health = frame(health_builds.workspace, "select * from marts.segment_health")
    drifted = set(
        drift.loc[drift["is_drift_alert"], ["as_of_date", "segment_id"]]
        .astype(str)
        .itertuples(index=False, name=None)
    )
    alerted = {
        (day(row.as_of_date), row.segment_id)
        for row in health.itertuples()
        if "feature_drift" in str(row.alerts)
    }
    assert alerted == drifted


def test_rerun_at_the_same_date_is_idempotent(health_builds: HealthBuilds) -> None:
    workspace = health_builds.workspace
    run = workspace.dbt(
        "run",
        "--select",
        "segment_membership+",
        dbt_vars={**BUILD_VARS, "as_of_date": SUCCESSIVE_DATES[-1]},
    )
    assert run.returncode == 0, run.output
    assert table_rows(workspace) == health_builds.tables
    # The membership history too (it was test_segments_generated's own rerun).
    history = "select * from marts.segment_membership_history"
    last_build = health_builds.after[SUCCESSIVE_DATES[-1]]
    assert canonical(workspace.query(history)) == canonical(query(last_build, history))


def test_dates_out_of_order_stop_the_build(health_builds: HealthBuilds) -> None:
    workspace = health_builds.workspace
    earlier = workspace.dbt(
        "run",
        "--select",
        "segment_feature_bins",
        dbt_vars={**BUILD_VARS, "as_of_date": SUCCESSIVE_DATES[0]},
    )
    assert earlier.returncode != 0
    assert f"segment_feature_bins is recorded through {SUCCESSIVE_DATES[-1]}" in earlier.output
    # Health alone at a date the membership history was not built at.
    later = workspace.dbt(
        "run", "--select", "segment_health", dbt_vars={**BUILD_VARS, "as_of_date": "2026-07-31"}
    )
    assert later.returncode != 0
    assert "segment_membership_history was last built at 2026-06-30" in later.output
    assert table_rows(workspace) == health_builds.tables


def test_a_shrunk_segment_raises_size_jump_and_below_min_size(
    health_builds: HealthBuilds, generated: Path, tmp_path: Path
) -> None:
    """win_back loses almost everyone at the last date (its rule narrowed in the seed table,
    as a broken feed would): rerun at that date, the alerts fire against the previous run."""
    workspace = linked_workspace(tmp_path / "shrunk", generated / "raw")
    shutil.copy(health_builds.after[SUCCESSIVE_DATES[-1]], workspace.warehouse)
    with duckdb.connect(str(workspace.warehouse)) as con:
        con.execute(
            "update reference.segment_definitions set rule = rule || ' and net_revenue > 4000' "
            "where segment_id = 'win_back'"
        )
    as_of_date = SUCCESSIVE_DATES[-1]
    run = workspace.dbt(
        "run", "--select", "segment_membership+", dbt_vars={**BUILD_VARS, "as_of_date": as_of_date}
    )
    assert run.returncode == 0, run.output

    features = health_builds.snapshots[as_of_date].features
    erased = health_builds.snapshots[as_of_date].erased
    previous = health_builds.snapshots[SUCCESSIVE_DATES[-2]].membership
    previous = previous[~previous["customer_key"].isin(erased)]
    [(members, previous_members, alerts, below)] = workspace.query(
        "select members, previous_members, alerts, is_below_min_size from marts.segment_health "
        f"where segment_id = 'win_back' and as_of_date = '{as_of_date}'"
    )
    [(recency_rule,)] = workspace.query(
        "select rule from reference.segment_definitions where segment_id = 'win_back'"
    )
    assert "net_revenue > 4000" in recency_rule
    assert previous_members == (previous["segment_id"] == "win_back").sum()
    assert members == int(
        (
            (features["recency_days"] > 180)
            & (features["net_revenue"].astype(float) >= 100)
            & (features["net_revenue"].astype(float) > 4000)
        ).sum()
    )
    assert 0 < members < 50 <= previous_members
    assert "size_jump" in alerts.split(",")
    assert "below_min_size" in alerts.split(",")
    assert below
    # The healthy segments beside it are untouched by the rerun.
    original = {
        row[0]: row[1:]
        for row in health_builds.workspace.query(
            "select segment_id, members, alerts from marts.segment_health "
            f"where as_of_date = '{as_of_date}' and segment_family = 'rfm'"
        )
    }
    shrunk = {
        row[0]: row[1:]
        for row in workspace.query(
            "select segment_id, members, alerts from marts.segment_health "
            f"where as_of_date = '{as_of_date}' and segment_family = 'rfm'"
        )
    }
    assert shrunk == original


def test_a_truncated_source_raises_size_jump(
    health_builds: HealthBuilds, generated: Path, tmp_path: Path
) -> None:
    """At the last date the orders file arrives with 90% of its rows missing (a broken export):
    rebuilt at that date, the value segment collapses and segment_health says so."""
    raw = tmp_path / "raw"
    shutil.copytree(generated / "raw", raw)
    orders = raw / "orders.csv"
    with duckdb.connect() as con:
        [(total,)] = con.execute(
            f"select count(*) from read_csv('{orders}', all_varchar = true)"
        ).fetchall()
        con.execute(
            f"copy (select * from read_csv('{generated / 'raw' / 'orders.csv'}', "
            f"all_varchar = true) limit {total // 10}) to '{orders}' (header)"
        )
    workspace = linked_workspace(tmp_path / "truncated", raw)
    shutil.copy(health_builds.after[SUCCESSIVE_DATES[-1]], workspace.warehouse)
    as_of_date = SUCCESSIVE_DATES[-1]
    run = workspace.dbt("run", dbt_vars={**BUILD_VARS, "as_of_date": as_of_date})
    assert run.returncode == 0, run.output

    [(members, previous_members, alerts)] = workspace.query(
        "select members, previous_members, alerts from marts.segment_health "
        f"where segment_id = 'high_value_improved' and as_of_date = '{as_of_date}'"
    )
    untouched = health_at(health_builds, as_of_date).loc["high_value_improved"]
    assert previous_members == untouched["previous_members"]  # the same previous run
    assert members <= 0.5 * previous_members, (members, previous_members)
    assert "size_jump" in alerts.split(","), alerts
    before = untouched["alerts"] if isinstance(untouched["alerts"], str) else ""
    assert "size_jump" not in before.split(",")
