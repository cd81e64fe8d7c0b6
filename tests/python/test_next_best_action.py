"""customer_next_best_action on generated data: one row per customer, the choice recomputed
with pandas from the rules seed and the published segments, scores, consents and campaign lift:
matches ranked by value x uplift, only consented channels proposed (else the next eligible
rule, the fallback, or nothing, with the reason), and action_rank."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import PROJECT_DIR, Workspace, frame

RULES_CSV = PROJECT_DIR / "seeds" / "campaigns" / "next_best_action_rules.csv"
CHANNELS = ("email", "sms", "ads", "push")


def value_at_stake(objective: pd.Series, clv: pd.Series, churn: pd.Series) -> pd.Series:
    clv, churn = clv.fillna(0.0), churn.fillna(0.0)
    return clv * churn.where(objective == "retain", 1.0 - churn)


def active_rules(warehouse: Path) -> pd.DataFrame:
    """The active rules with their uplift factor from the published campaign_lift."""
    rules = pd.read_csv(
        RULES_CSV,
        dtype={"segment_id": "string", "churn_risk_band": "string", "uplift_campaign_id": "string"},
    )
    rules = rules[rules["is_active"]].copy()
    lift = frame(
        warehouse,
        "select campaign_id, is_conversion_significant, conversion_lift_rel "
        "from marts.campaign_lift",
    ).set_index("campaign_id")
    factors = []
    for campaign in rules["uplift_campaign_id"]:
        factor = 1.0
        if pd.notna(campaign) and campaign in lift.index:
            significant, relative = lift.loc[campaign]
            if pd.notna(significant) and bool(significant):
                factor = max(0.0, 1.0 + (0.0 if pd.isna(relative) else float(relative)))
        factors.append(factor)
    rules["uplift_factor"] = factors
    return rules


def rule_candidates(warehouse: Path) -> pd.DataFrame:
    """Every (customer, rule) pair whose conditions hold, plus the fallback for everyone, with
    value score and consent for the rule's channel."""
    rules = active_rules(warehouse)
    customers = frame(
        warehouse,
        "select f.customer_key, coalesce(s.churn_risk_band, 'unscored') as band, "
        "s.churn_probability, c.clv, "
        + ", ".join(f"coalesce(f.has_{ch}_consent, false) as {ch}" for ch in CHANNELS)
        + " from marts.customer_features f "
        "left join marts.customer_churn_scores s using (customer_key) "
        "left join marts.customer_clv c using (customer_key)",
    ).set_index("customer_key")
    memberships = frame(warehouse, "select customer_key, segment_id from marts.segment_membership")
    members_of = memberships.groupby("segment_id")["customer_key"].agg(set)

    candidates = []
    for rule in rules.itertuples():
        matches = pd.Series(True, index=customers.index)
        if not rule.is_fallback:
            if pd.notna(rule.segment_id):
                matches &= customers.index.isin(members_of.get(rule.segment_id, set()))
            if pd.notna(rule.churn_risk_band):
                matches &= customers["band"] == rule.churn_risk_band
            if pd.notna(rule.min_clv):
                matches &= customers["clv"] >= rule.min_clv
        matched = customers[matches]
        value = value_at_stake(
            pd.Series(rule.objective, index=matched.index),
            matched["clv"],
            matched["churn_probability"],
        )
        candidates.append(
            pd.DataFrame(
                {
                    "customer_key": matched.index,
                    "rule_id": rule.rule_id,
                    "is_fallback": bool(rule.is_fallback),
                    "priority": rule.priority,
                    "score": (value * rule.uplift_factor).to_numpy(),
                    "has_consent": matched[rule.channel].astype(bool).to_numpy(),
                }
            )
        )
    return pd.concat(candidates, ignore_index=True)


def expected_actions(warehouse: Path) -> pd.DataFrame:
    """The rule and reason each customer should get, computed rule by rule in pandas."""
    candidates = rule_candidates(warehouse)
    order = ["customer_key", "is_fallback", "score", "priority", "rule_id"]
    ascending = [True, True, False, True, True]
    best = candidates.sort_values(order, ascending=ascending).groupby("customer_key").head(1)
    best = best.set_index("customer_key")
    candidates["no_consent"] = ~candidates["has_consent"]
    chosen = (
        candidates.sort_values(
            ["customer_key", "no_consent", *order[1:]], ascending=[True, *ascending]
        )
        .groupby("customer_key")
        .head(1)
        .set_index("customer_key")
        .loc[best.index]
    )
    matched = candidates[~candidates["is_fallback"]].groupby("customer_key").size()
    expected = pd.DataFrame(index=best.index)
    expected["matched_rule_count"] = matched.reindex(best.index).fillna(0).astype(int)
    expected["rule_id"] = chosen["rule_id"].where(chosen["has_consent"])
    expected["skipped_rule_id"] = best["rule_id"].where(
        (best["rule_id"] != chosen["rule_id"]) | ~chosen["has_consent"]
    )
    reason = pd.Series("best_match", index=best.index)
    reason[best["rule_id"] != chosen["rule_id"]] = "next_eligible_no_consent"
    reason[chosen["is_fallback"]] = "fallback_no_consent"
    reason[chosen["is_fallback"] & (expected["matched_rule_count"] == 0)] = "fallback_no_match"
    reason[~chosen["has_consent"]] = "no_reachable_channel"
    expected["decision_reason"] = reason
    return expected


def test_one_action_per_customer_as_pandas_recomputes_it(built: Workspace) -> None:
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    customers = frame(built.warehouse, "select customer_key from marts.customer_features")
    assert actions["customer_key"].is_unique
    assert set(actions["customer_key"]) == set(customers["customer_key"])

    expected = expected_actions(built.warehouse)
    actual = actions.set_index("customer_key").loc[expected.index]
    for column in ("rule_id", "skipped_rule_id", "decision_reason"):
        pd.testing.assert_series_equal(
            actual[column].astype(object).where(actual[column].notna(), None),
            expected[column].astype(object).where(expected[column].notna(), None),
            check_names=False,
        )
    assert (actual["matched_rule_count"] == expected["matched_rule_count"]).all()
    # The data exercises every outcome, and more than one rule wins.
    assert set(actual["decision_reason"]) == {
        "best_match",
        "next_eligible_no_consent",
        "fallback_no_consent",
        "fallback_no_match",
        "no_reachable_channel",
    }
    assert actual["rule_id"].nunique() >= 5


def test_actions_only_on_consented_channels(built: Workspace) -> None:
    """Customers lacking consent for their best match's channel get another channel's action
    or none: never the unconsented one (the old model proposed it and only flagged it)."""
    actions = frame(
        built.warehouse,
        "select a.*, "
        + ", ".join(f"coalesce(f.has_{ch}_consent, false) as consent_{ch}" for ch in CHANNELS)
        + " from marts.customer_next_best_action a join marts.customer_features f "
        "using (customer_key)",
    )
    proposed = actions[actions["rule_id"].notna()]
    for channel in CHANNELS:
        on_channel = proposed[proposed["channel"] == channel]
        assert on_channel[f"consent_{channel}"].all(), channel
    skipped = actions[actions["skipped_rule_id"].notna()]
    assert len(skipped) > 0
    for channel in CHANNELS:
        on_channel = skipped[skipped["skipped_channel"] == channel]
        assert not on_channel[f"consent_{channel}"].any(), channel
    assert (skipped["rule_id"] != skipped["skipped_rule_id"]).all()
    unreachable = actions[actions["decision_reason"] == "no_reachable_channel"]
    assert unreachable[["action", "channel", "action_rank"]].isna().all().all()
    assert not unreachable["consent_email"].any()  # the fallback's channel


def test_value_ranks_matches_not_only_ties(built: Workspace) -> None:
    """Among a customer's consented matches the chosen one has the highest value_score, even
    when a rule of lower priority number (that used to win outright) also matched."""
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    candidates = rule_candidates(built.warehouse)
    consented = candidates[candidates["has_consent"] & ~candidates["is_fallback"]]
    top_score = consented.groupby("customer_key")["score"].max()
    chosen = actions[actions["decision_reason"].isin(["best_match", "next_eligible_no_consent"])]
    chosen = chosen.set_index("customer_key")
    assert (chosen["value_score"] - top_score.reindex(chosen.index)).abs().max() < 1e-9
    top_priority = consented.groupby("customer_key")["priority"].min()
    overruled = chosen["rule_priority"] > top_priority.reindex(chosen.index)
    assert overruled.sum() > 0


def test_action_rank_orders_each_action_by_value_score(built: Workspace) -> None:
    actions = frame(built.warehouse, "select * from marts.customer_next_best_action")
    proposed = actions[actions["rule_id"].notna()]
    expected_value = value_at_stake(
        proposed["objective"], proposed["clv"], proposed["churn_probability"]
    )
    assert (proposed["value_at_stake"] - expected_value).abs().max() < 1e-9
    assert (
        (proposed["value_score"] - proposed["value_at_stake"] * proposed["uplift_factor"]).abs()
        < 1e-9
    ).all()
    for _, group in proposed.groupby("action"):
        ordered = group.sort_values(["value_score", "customer_key"], ascending=[False, True])
        assert list(ordered["action_rank"]) == list(range(1, len(group) + 1))
