"""The closed experiment loop over the session's chain of builds (`three_date_chain`: one
warehouse built at three month ends): holdout arms survive merges and full refreshes, and
experiment_results measures the holdouts against the orders placed in between, checked with
pandas and scipy. The chain's last build ran every data test, the experiment models' too;
the tests here read a copy of its warehouse and need no build of their own."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from conftest import BUILD_VARS, SUCCESSIVE_DATES, ChainBuild, Workspace, frame, linked_workspace
from segwarehouse.experiments.inference import min_expected_count, newcombe_interval
from segwarehouse.experiments.results import (
    RESULTS_SCHEMA,
    ResultSettings,
    experiment_results_frame,
)

# The runs compared: the chain's second and third builds.
FIRST, SECOND = SUCCESSIVE_DATES[1:]
ALPHA = 0.05


def _arms_by_node(warehouse: Path) -> pd.DataFrame:
    """Every current experiment member's arm, one row per identity node of the customer."""
    return frame(
        warehouse,
        """
        select a.experiment_id, a.customer_key, a.arm, a.assignment_source,
               a.inherited_from_customer_key, a.has_arm_conflict, a.assignment_salt,
               a.holdout_share, n.node_id
        from marts.experiment_assignments as a
        inner join intermediate.int_identity_resolved_nodes as n using (customer_key)
        """,
    )


@pytest.fixture(scope="module")
def two_runs(
    three_date_chain: ChainBuild, generated: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, pd.DataFrame]:
    """A copy of the warehouse after the chain's last run (a test here reruns dbt on it),
    and the arms per identity node as the run before left them."""
    workspace = linked_workspace(tmp_path_factory.mktemp("experiments"), generated / "raw")
    shutil.copyfile(three_date_chain.after[SECOND], workspace.warehouse)
    before = _arms_by_node(three_date_chain.after[FIRST])
    return workspace, before


def _old_rule_arm(salt: str, key: str, holdout_share: float) -> str:
    """The arm the old experiment_assignments drew: md5 of salt|customer_key, every run."""
    unit = int(hashlib.md5(f"{salt}|{key}".encode()).hexdigest()[:13], 16) / 2**52
    return "control" if unit < holdout_share else "treatment"


def test_merged_customers_keep_their_first_arm(
    two_runs: tuple[Workspace, pd.DataFrame], three_date_chain: ChainBuild
) -> None:
    workspace, before = two_runs
    after = _arms_by_node(workspace.warehouse)
    joined = after.merge(
        before[["experiment_id", "node_id", "customer_key", "arm"]],
        on=["experiment_id", "node_id"],
        suffixes=("", "_before"),
    ).drop_duplicates(["experiment_id", "customer_key", "customer_key_before"])
    merged = joined[joined["customer_key"] != joined["customer_key_before"]]
    # The data has merges between the runs, and the old rule (redraw under the new key) would
    # have switched some of these customers' arms.
    assert len(merged) >= 10
    old_arms = merged.apply(
        lambda row: _old_rule_arm(
            row["assignment_salt"], row["customer_key"], row["holdout_share"]
        ),
        axis=1,
    )
    assert (old_arms != merged["arm_before"]).sum() > 0
    # Now: no member moved arm, except a merge of customers that sat in both arms, where the
    # earliest (tie: the surviving key's) arm is kept and the conflict flagged.
    switched = joined[(joined["arm"] != joined["arm_before"]) & ~joined["has_arm_conflict"]]
    assert switched.empty, switched
    inherited = after[after["assignment_source"] == "inherited"].drop_duplicates(
        ["experiment_id", "customer_key"]
    )
    assert len(inherited) > 0
    # Inherited from a key some earlier run assigned (the chain has two before the last).
    earlier = {
        key
        for as_of_date in SUCCESSIVE_DATES[:-1]
        for key in _arms_by_node(three_date_chain.after[as_of_date])["customer_key"]
    }
    assert set(inherited["inherited_from_customer_key"]) <= earlier


def test_a_full_refresh_keeps_the_assignment_log(
    two_runs: tuple[Workspace, pd.DataFrame],
) -> None:
    workspace, _ = two_runs
    query = "select * from activation.experiment_assignment_log order by all"
    log = frame(workspace.warehouse, query)
    assert set(log["assigned_on"].astype(str)) == set(SUCCESSIVE_DATES)
    rebuilt = workspace.dbt(
        "run",
        "--full-refresh",
        "--select",
        "experiment_assignment_log experiment_assignments",
        dbt_vars={**BUILD_VARS, "as_of_date": SECOND},
    )
    assert rebuilt.returncode == 0, rebuilt.output
    pd.testing.assert_frame_equal(frame(workspace.warehouse, query), log)


def test_outcomes_count_members_who_left_the_segment(
    two_runs: tuple[Workspace, pd.DataFrame],
) -> None:
    """Intention to treat: a member assigned at the first run who has since left the segment
    (a win-back customer who bought) is still measured, in their first arm."""
    workspace, before = two_runs
    outcomes = frame(workspace.warehouse, "select * from marts.experiment_member_outcomes")
    current = frame(workspace.warehouse, "select * from marts.experiment_assignments")
    left = outcomes.merge(
        current[["experiment_id", "customer_key"]], how="left", indicator=True
    ).query("_merge == 'left_only'")
    assert len(left) > 0
    assert left["is_converted"].mean() > outcomes["is_converted"].mean()
    first_arms = before.drop_duplicates(["experiment_id", "customer_key"])
    kept = left.merge(first_arms, on=["experiment_id", "customer_key"], suffixes=("", "_first"))
    assert len(kept) > 0 and (kept["arm"] == kept["arm_first"]).all()


def test_member_outcomes_are_the_orders_in_the_window(
    two_runs: tuple[Workspace, pd.DataFrame],
) -> None:
    workspace, _ = two_runs
    outcomes = frame(workspace.warehouse, "select * from marts.experiment_member_outcomes")
    orders = frame(
        workspace.warehouse,
        """
        select distinct n.customer_key, o.order_id, o.order_date, o.order_total_reporting
        from intermediate.int_customer_orders as o
        inner join intermediate.int_identity_resolved_nodes as n using (customer_sk)
        where o.is_completed
        """,
    )
    joined = outcomes.merge(orders, on="customer_key")
    inside = joined[
        (joined["order_date"] > joined["assigned_on"])
        & (joined["order_date"] <= joined["window_ends_on"])
    ]
    expected = inside.groupby(["experiment_id", "customer_key"]).agg(
        orders=("order_id", "count"), revenue=("order_total_reporting", "sum")
    )
    actual = outcomes.set_index(["experiment_id", "customer_key"])
    buyers = actual[actual["orders"] > 0]
    assert len(buyers) > 50
    assert buyers["orders"].sort_index().tolist() == expected["orders"].sort_index().tolist()
    assert buyers["revenue"].astype(float).sort_index().tolist() == pytest.approx(
        expected["revenue"].astype(float).sort_index().tolist()
    )


def test_experiment_results_match_pandas_and_scipy(
    two_runs: tuple[Workspace, pd.DataFrame],
) -> None:
    workspace, _ = two_runs
    results = frame(workspace.warehouse, "select * from marts.experiment_results")
    outcomes = frame(workspace.warehouse, "select * from marts.experiment_member_outcomes")
    assert list(results.columns) == list(RESULTS_SCHEMA)
    assert sorted(results["experiment_id"]) == sorted(outcomes["experiment_id"].unique())
    for experiment_id, group in outcomes.groupby("experiment_id"):
        row = results.set_index("experiment_id").loc[experiment_id]
        observed = group[group["observed_days"] > 0]
        treated = observed[observed["arm"] == "treatment"]
        control = observed[observed["arm"] == "control"]
        assert row["members_pending"] == (group["observed_days"] == 0).sum()
        k_t, k_c = int(treated["is_converted"].sum()), int(control["is_converted"].sum())
        n_t, n_c = len(treated), len(control)
        assert (row["members_treatment"], row["members_control"]) == (n_t, n_c)
        assert (row["conversions_treatment"], row["conversions_control"]) == (k_t, k_c)
        if min_expected_count(k_t, n_t, k_c, n_c) < 5:
            table = [[k_t, n_t - k_t], [k_c, n_c - k_c]]
            sides = [stats.fisher_exact(table, alternative=s).pvalue for s in ("less", "greater")]
            assert row["conversion_fisher_p_value"] == pytest.approx(min(1.0, 2 * min(sides)))
            assert row["conversion_p_value"] >= row["conversion_fisher_p_value"]
        else:
            interval = newcombe_interval(k_t, n_t, k_c, n_c, ALPHA)
            assert (row["conversion_ci_low"], row["conversion_ci_high"]) == pytest.approx(interval)
        for metric in ("revenue", "orders"):
            values_t, values_c = treated[metric].astype(float), control[metric].astype(float)
            if values_c.nunique() == 1 or values_t.nunique() == 1:
                # No variation in an arm (a holdout where nobody bought): no test.
                assert row[f"{metric}_test"] == "none" and pd.isna(row[f"{metric}_p_value"])
            elif row[f"{metric}_test"] == "welch":
                welch = stats.ttest_ind(values_t, values_c, equal_var=False)
                assert row[f"{metric}_p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
            else:
                assert row[f"{metric}_test"] == "bootstrap"
            lift = values_t.mean() - values_c.mean()
            assert row[f"{metric}_lift_abs"] == pytest.approx(lift)
        for metric in ("conversion", "revenue", "orders"):
            if pd.isna(row[f"{metric}_p_value"]):
                continue
            excludes = row[f"{metric}_ci_low"] > 0 or row[f"{metric}_ci_high"] < 0
            assert excludes == (row[f"{metric}_p_value"] < ALPHA), (experiment_id, metric)
    for metric in ("conversion", "revenue", "orders"):
        tested = results[results[f"{metric}_p_value"].notna()]
        adjusted = stats.false_discovery_control(tested[f"{metric}_p_value"].astype(float))
        assert list(tested[f"{metric}_p_value_adjusted"]) == pytest.approx(list(adjusted))
    # The warehouse's holdouts are measured: every experiment has an observed window.
    assert (results["members_treatment"] > 0).all() and (results["members_control"] > 0).all()


def _settings() -> ResultSettings:
    return ResultSettings(ALPHA, 0.8, 30, 2.0, 5000, 999, 1)


def _member(experiment: str, arm: str, orders: int, revenue: float, days: int = 10) -> dict:
    return {
        "experiment_id": experiment,
        "segment_id": "s",
        "customer_key": f"cus_{experiment}_{arm}_{orders}_{revenue}",
        "arm": arm,
        "assigned_on": pd.Timestamp("2026-06-01"),
        "observed_days": days,
        "orders": orders,
        "revenue": revenue,
        "is_converted": orders > 0,
        "is_window_complete": False,
        "as_of_date": pd.Timestamp("2026-06-11"),
    }


def test_an_unknown_arm_is_a_clear_error() -> None:
    members = pd.DataFrame([_member("e", "holdout", 0, 0.0)])
    with pytest.raises(ValueError, match=r"arm holds \['holdout'\]"):
        experiment_results_frame(members, _settings())


def test_members_assigned_this_run_wait_for_the_next() -> None:
    members = pd.DataFrame(
        [_member("e", "treatment", 1, 10.0, days=0), _member("e", "control", 0, 0.0, days=0)]
    )
    [row] = experiment_results_frame(members, _settings()).to_dict("records")
    assert row["members_pending"] == 2 and row["members_treatment"] == 0
    assert row["conversion_p_value"] is None and row["conversion_test"] == "none"
