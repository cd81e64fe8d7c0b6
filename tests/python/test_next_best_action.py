"""customer_next_best_action on generated data: one row per customer, the choice recomputed
with pandas from the rules seed and the published segments and scores, the fallback used
exactly when nothing matches, and action_rank."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import PROJECT_DIR, Workspace, frame

RULES_CSV = PROJECT_DIR / "seeds" / "campaigns" / "next_best_action_rules.csv"


def value_at_stake(objective: pd.Series, clv: pd.Series, churn: pd.Series) -> pd.Series:
    clv, churn = clv.fillna(0.0), churn.fillna(0.0)
    return clv * churn.where(objective == "retain", 1.0 - churn)


def expected_actions(warehouse: Path) -> pd.DataFrame:
    """The rule each customer should get, computed rule by rule in pandas."""
    rules = pd.read_csv(RULES_CSV, dtype={"segment_id": "string", "churn_risk_band": "string"})
    rules = rules[rules["is_active"]]
    customers = frame(
        warehouse,
        "select f.customer_key, coalesce(s.churn_risk_band, 'unscored') as band, "
        "s.churn_probability, c.clv from marts.customer_features f "
        "left join marts.customer_churn_scores s using (customer_key) "
        "left join marts.customer_clv c using (customer_key)",
    ).set_index("customer_key")
    memberships = frame(warehouse, "select customer_key, segment_id from marts.segment_membership")
    members_of = memberships.groupby("segment_id")["customer_key"].agg(set)

    candidates = []
    for rule in rules[~rules["is_fallback"]].itertuples():
        matches = pd.Series(True, index=customers.index)
        if pd.notna(rule.segment_id):
            matches &= customers.index.isin(members_of.get(rule.segment_id, set()))
        if pd.notna(rule.churn_risk_band):
            matches &= customers["band"] == rule.churn_risk_band
        if pd.notna(rule.min_clv):
            matches &= customers["clv"] >= rule.min_clv
        matched = customers[matches]
        candidates.append(
            pd.DataFrame(
                {
                    "customer_key": matched.index,
                    "rule_id": rule.rule_id,
                    "priority": rule.priority,
                    "value": value_at_stake(
                        pd.Series(rule.objective, index=matched.index),
                        matched["clv"],
                        matched["churn_probability"],
                    ).to_numpy(),
                }
            )
        )
    matched = pd.concat(candidates, ignore_index=True)
    counts = matched.groupby("customer_key").size()
    best = (
        matched.sort_values(
            ["customer_key", "priority", "value", "rule_id"], ascending=[True, True, False, True]
        )
        .groupby("customer_key")
        .head(1)
        .set_index("customer_key")["rule_id"]
    )
    [fallback] = rules.loc[rules["is_fallback"], "rule_id"]
    expected = pd.DataFrame(index=customers.index)
    expected["rule_id"] = best.reindex(customers.index).fillna(fallback)
    expected["matched_rule_count"] = counts.reindex(customers.index).fillna(0).astype(int)
    expected["tied_rules"] = (
        matched.merge(
            matched.groupby("customer_key")["priority"].min().rename("top"), on="customer_key"
        )
        .query("priority == top")
        .groupby("customer_key")
        .size()
        .reindex(customers.index)
        .fillna(0)
    )
    return expected


def test_one_action_per_customer_as_pandas_recomputes_it(built: Workspace) -> None:
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    customers = frame(built.warehouse, "select customer_key from marts.customer_features")
    assert actions["customer_key"].is_unique
    assert set(actions["customer_key"]) == set(customers["customer_key"])

    expected = expected_actions(built.warehouse)
    actual = actions.set_index("customer_key").loc[expected.index]
    pd.testing.assert_series_equal(actual["rule_id"], expected["rule_id"], check_names=False)
    assert (actual["matched_rule_count"] == expected["matched_rule_count"]).all()
    # The data exercises the interesting cases: fallbacks, and ties at the top priority.
    assert actual["is_fallback"].sum() > 0
    assert (expected["tied_rules"] > 1).sum() > 0
    assert actual["rule_id"].nunique() >= 5


def test_fallback_only_when_nothing_matches(built: Workspace) -> None:
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    rules = pd.read_csv(RULES_CSV)
    [fallback] = rules.loc[rules["is_fallback"] & rules["is_active"], "rule_id"]
    assert ((actions["rule_id"] == fallback) == actions["is_fallback"]).all()
    assert (actions["is_fallback"] == (actions["matched_rule_count"] == 0)).all()
    assert actions.loc[actions["is_fallback"], "rule_priority"].isna().all()


def test_action_rank_orders_each_action_by_value_at_stake(built: Workspace) -> None:
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    expected_value = value_at_stake(
        actions["objective"], actions["clv"], actions["churn_probability"]
    )
    assert (actions["value_at_stake"] - expected_value).abs().max() < 1e-9
    for _, group in actions.groupby("action"):
        ordered = group.sort_values(["value_at_stake", "customer_key"], ascending=[False, True])
        assert list(ordered["action_rank"]) == list(range(1, len(group) + 1))
