"""Segment governance on a copy of the built warehouse (docs/segment_health.md#governance).

In order, on one warehouse: editing a recorded version's rule in place stops the build; a new
version (3) of high_value_improved is logged with who and when, splits the membership history
by version and is measured against version 2 in segment_version_changes; --full-refresh keeps
the change log; a pin rolls the segment back to version 2 (an unrecorded version stops the
build); an unapproved segment and one below its min_size are blocked from activation, with
the reason in audience_summary and no rows in audience_exports. Every figure is recomputed
from the warehouse's own customer_features with pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd
import pytest

from conftest import (
    BUILD_VARS,
    PROJECT_DIR,
    DbtRun,
    Workspace,
    copied_workspace,
    frame,
)

SEED_CSV = PROJECT_DIR / "seeds" / "segments" / "segment_definitions.csv"
SEGMENT = "high_value_improved"
V2_RULE = "net_revenue > 500 or orders_90d > 3"
V3_RULE = "net_revenue > 1500 or orders_90d > 3"
# The revenue threshold of each rule, for recomputing it in pandas.
REVENUE_ABOVE = {V2_RULE: 500, V3_RULE: 1500}
# The models a definition change touches, up to the audiences (robust to how the audience
# models are split: everything downstream of segment_membership and upstream of the exports).
GOVERNED = (
    "segment_definition_changes segment_definitions_in_effect segment_membership "
    "segment_membership_history segment_version_changes "
    "segment_membership+,+audience_exports segment_membership+,+audience_summary"
)
LOG_SQL = "select * from marts.segment_definition_changes order by segment_id, detected_at"
NEW_VERSION_DATE = "2026-07-31"
ROLLBACK_DATE = "2026-08-31"


@dataclass
class Governed:
    """The warehouse after the scenario, and what each step printed or published."""

    workspace: Workspace
    edit_in_place: DbtRun
    new_version: pd.DataFrame  # segment_membership of SEGMENT after version 3
    report_v3: pd.DataFrame
    log_before_refresh: pd.DataFrame
    log_after_refresh: pd.DataFrame
    rollback: pd.DataFrame  # segment_membership of SEGMENT with the pin
    report_pinned: pd.DataFrame
    in_effect_pinned: pd.DataFrame
    bad_pin: DbtRun
    summary_gated: pd.DataFrame
    exports_gated: pd.DataFrame


def execute(workspace: Workspace, sql: str, *params: object) -> None:
    with duckdb.connect(str(workspace.warehouse)) as con:
        con.execute(sql, list(params))


def run(workspace: Workspace, as_of_date: str, *args: str, **extra_vars: object) -> DbtRun:
    return workspace.dbt(
        "run", *args, dbt_vars={**BUILD_VARS, "as_of_date": as_of_date, **extra_vars}
    )


def members(workspace: Workspace) -> pd.DataFrame:
    return frame(
        workspace,
        "select customer_key, segment_version from marts.segment_membership "
        f"where segment_id = '{SEGMENT}'",
    )


def matching(workspace: Workspace, rule: str) -> set[str]:
    """Customers of customer_features a rule matches, evaluated by pandas."""
    features = frame(
        workspace, "select customer_key, net_revenue, orders_90d from marts.customer_features"
    )
    revenue = features["net_revenue"].astype(float)
    hit = (revenue > REVENUE_ABOVE[rule]) | (features["orders_90d"].fillna(0) > 3)
    return set(features.loc[hit, "customer_key"])


@pytest.fixture(scope="module")
def governed(built: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Governed:
    workspace = copied_workspace(built, tmp_path_factory.mktemp("governance"))
    select = ("--select", GOVERNED)

    # 1. The rule of recorded version 2 edited in place: refused.
    execute(
        workspace,
        f"update reference.segment_definitions set rule = ? where segment_id = '{SEGMENT}'",
        V3_RULE,
    )
    edit_in_place = run(workspace, NEW_VERSION_DATE, *select)

    # 2. The same rule as version 3, by j.tester.
    execute(
        workspace,
        "update reference.segment_definitions set version = 3, changed_by = 'j.tester', "
        f"changed_on = date '2026-07-30' where segment_id = '{SEGMENT}'",
    )
    step = run(workspace, NEW_VERSION_DATE, *select)
    assert step.returncode == 0, step.output
    new_version = members(workspace)
    report_v3 = frame(workspace, "select * from marts.segment_version_changes")

    # 3. --full-refresh of the log keeps it.
    log_before = frame(workspace, LOG_SQL)
    step = run(
        workspace, NEW_VERSION_DATE, "--full-refresh", "--select", "segment_definition_changes"
    )
    assert step.returncode == 0, step.output
    log_after = frame(workspace, LOG_SQL)

    # 4. Rollback: pin version 2 (seed still says 3); then a version never recorded.
    pins = {"segments__version_pins": {SEGMENT: 2}}
    step = run(workspace, ROLLBACK_DATE, *select, **pins)
    assert step.returncode == 0, step.output
    rollback = members(workspace)
    report_pinned = frame(workspace, "select * from marts.segment_version_changes")
    in_effect = frame(workspace, "select * from marts.segment_definitions_in_effect")
    bad_pin = run(
        workspace,
        ROLLBACK_DATE,
        "--select",
        "segment_definitions_in_effect",
        segments__version_pins={SEGMENT: 7},
    )

    # 5. win_back unapproved, at_risk's floor above its audience: both blocked.
    execute(
        workspace,
        "update reference.segment_definitions set is_approved = false "
        "where segment_id = 'win_back'",
    )
    execute(
        workspace,
        "update reference.segment_definitions set min_size = 100000 where segment_id = 'at_risk'",
    )
    step = run(workspace, ROLLBACK_DATE, *select, **pins)
    assert step.returncode == 0, step.output
    return Governed(
        workspace=workspace,
        edit_in_place=edit_in_place,
        new_version=new_version,
        report_v3=report_v3,
        log_before_refresh=log_before,
        log_after_refresh=log_after,
        rollback=rollback,
        report_pinned=report_pinned,
        in_effect_pinned=in_effect,
        bad_pin=bad_pin,
        summary_gated=frame(workspace, "select * from marts.audience_summary"),
        exports_gated=frame(
            workspace, "select audience_id, customer_key from marts.audience_exports"
        ),
    )


def test_editing_a_recorded_versions_rule_stops_the_build(governed: Governed) -> None:
    assert governed.edit_in_place.returncode != 0
    assert f"segment '{SEGMENT}' version 2 is recorded with rule `{V2_RULE}`" in (
        governed.edit_in_place.output
    )
    assert "raise `version`" in governed.edit_in_place.output


def test_change_log_records_what_when_and_who(governed: Governed) -> None:
    log = governed.log_after_refresh
    created = log[log["change_kind"] == "created"]
    assert len(created) == len(pd.read_csv(SEED_CSV))
    [change] = log[log["change_kind"] == "new_version"].itertuples()
    assert change.segment_id == SEGMENT
    assert (change.previous_version, change.version) == (2, 3)
    assert (change.previous_rule, change.rule) == (V2_RULE, V3_RULE)
    assert change.changed_columns.split(",") == ["version", "rule"]
    assert change.changed_by == "j.tester"
    assert pd.Timestamp(change.changed_on) == pd.Timestamp("2026-07-30")
    assert pd.Timestamp(change.detected_on) == pd.Timestamp(NEW_VERSION_DATE)


def test_full_refresh_keeps_the_change_log(governed: Governed) -> None:
    pd.testing.assert_frame_equal(governed.log_before_refresh, governed.log_after_refresh)


def test_membership_history_records_the_version_qualified_under(governed: Governed) -> None:
    assert set(governed.new_version["segment_version"]) == {3}
    assert set(governed.new_version["customer_key"]) == matching(governed.workspace, V3_RULE)
    history = frame(
        governed.workspace,
        "select customer_key, segment_version, valid_from, valid_to "
        f"from marts.segment_membership_history where segment_id = '{SEGMENT}'",
    )
    spells = history.astype({"valid_from": str, "valid_to": str})
    v2 = spells[spells["segment_version"] == 2]
    v3 = spells[spells["segment_version"] == 3]
    # Version 2's spells all closed when version 3 took over; version 3's ran until the pin.
    assert (v2["valid_to"] == NEW_VERSION_DATE).sum() > 0
    assert set(v3["valid_from"]) == {NEW_VERSION_DATE}
    assert set(v3["valid_to"]) == {ROLLBACK_DATE}
    # A customer in both versions has one spell per version, back to back.
    stayed = set(v2.loc[v2["valid_to"] == NEW_VERSION_DATE, "customer_key"]) & set(
        v3["customer_key"]
    )
    assert stayed
    reopened = spells[spells["valid_from"] == ROLLBACK_DATE]
    assert set(reopened["segment_version"]) == {2}


def test_version_change_report_measures_both_rules_on_the_same_data(governed: Governed) -> None:
    [row] = governed.report_v3[governed.report_v3["segment_id"] == SEGMENT].itertuples()
    new, old = matching(governed.workspace, V3_RULE), matching(governed.workspace, V2_RULE)
    assert (row.version, row.compared_version, row.is_pinned) == (3, 2, False)
    assert (row.members, row.compared_members) == (len(new), len(old))
    assert (row.stayed, row.entered, row.exited) == (len(new & old), len(new - old), len(old - new))
    moved = len(new ^ old) / len(old)
    assert row.moved_share == pytest.approx(moved)
    # The scenario moves more than the 20% threshold: the report flags it.
    assert row.alert_share == 0.2
    assert moved > row.alert_share
    assert row.is_large_move
    # Segments whose only version is recorded have no report row.
    assert set(governed.report_v3["segment_id"]) == {SEGMENT}


def test_a_pin_rolls_the_segment_back(governed: Governed) -> None:
    assert set(governed.rollback["segment_version"]) == {2}
    assert set(governed.rollback["customer_key"]) == matching(governed.workspace, V2_RULE)
    pinned = governed.in_effect_pinned.set_index("segment_id").loc[SEGMENT]
    assert (pinned["version"], pinned["seed_version"], pinned["is_pinned"]) == (2, 3, True)
    assert pinned["rule"] == V2_RULE
    [row] = governed.report_pinned.itertuples()
    assert (row.version, row.compared_version, row.is_pinned) == (2, 3, True)


def test_a_pin_to_an_unrecorded_version_stops_the_build(governed: Governed) -> None:
    assert governed.bad_pin.returncode != 0
    assert f"segment '{SEGMENT}' version 7 is not recorded" in governed.bad_pin.output
    assert "(recorded versions: 2, 3)" in governed.bad_pin.output


def test_unapproved_or_undersized_audiences_are_blocked(governed: Governed) -> None:
    summary = governed.summary_gated.set_index("audience_id")
    blocked = summary[summary["is_activation_blocked"]]
    assert set(blocked["segment_id"]) == {"win_back", "at_risk"}
    assert set(blocked.loc[blocked["segment_id"] == "win_back", "activation_block_reason"]) == {
        "not_approved"
    }
    at_risk = blocked[blocked["segment_id"] == "at_risk"].iloc[0]
    assert at_risk["activation_block_reason"] == "below_min_size"
    assert (
        f"{at_risk['eligible_count']} exportable members, below min_size 100000"
        in (at_risk["activation_block_detail"])
    )
    assert (blocked["exported_count"] == 0).all() and (blocked["eligible_count"] > 0).all()
    assert not set(governed.exports_gated["audience_id"]) & set(blocked.index)
    allowed = summary[~summary["is_activation_blocked"]]
    exported = governed.exports_gated.groupby("audience_id").size()
    assert (allowed["exported_count"] == exported.reindex(allowed.index).fillna(0)).all()
    assert (allowed["exported_count"] == allowed["eligible_count"]).all()
    # The change of approval is logged as an edit of that column.
    log = frame(governed.workspace, LOG_SQL)
    [edit] = log[(log["segment_id"] == "win_back") & (log["change_kind"] == "edited")].itertuples()
    assert edit.changed_columns == "is_approved"
