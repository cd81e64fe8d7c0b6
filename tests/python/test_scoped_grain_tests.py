"""The incremental staging models' grain tests check only rows written since they last passed
(`new_rows_in`, macros/tests/unique.sql; DECISIONLOG "Grain tests of the incremental staging
models scoped to new rows"): a duplicate a run writes fails them, and keeps failing them on
the next run until it is gone, since only a pass moves the scope on."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import BUILD_VARS, Workspace, copied_workspace

UNIQUE_EVENT_ID = "unique_stg_web__events_event_id"
PASSES = "select count(*) from audit.test_passes where test_id like 'test.segments.{}.%'"


def _duplicate_an_event(workspace: Workspace, batch: str) -> str:
    """Insert a second staged row for one staged event, stamped with `batch`; its event_id."""
    with duckdb.connect(str(workspace.warehouse)) as con:
        [(event_id,)] = con.execute(
            "select min(event_id) from staging.base_web__events where row_status = 'staged'"
        ).fetchall()
        con.execute(
            "insert into staging.base_web__events by name select * replace "
            "(cast(? as timestamp) as batch_run_started_at) "
            "from staging.base_web__events where event_id = ? and row_status = 'staged'",
            [batch, event_id],
        )
    return str(event_id)


def _test_event_grain(workspace: Workspace, **extra_vars: object) -> tuple[int, str]:
    run = workspace.dbt("test", "--select", UNIQUE_EVENT_ID, dbt_vars={**BUILD_VARS, **extra_vars})
    return run.returncode, run.output


def test_a_new_duplicate_fails_until_removed_and_only_a_pass_is_recorded(
    built, dbt_project: Path, tmp_path: Path
) -> None:
    workspace = copied_workspace(built, tmp_path / "scoped")
    # The build recorded its pass: the scope starts after the build's rows.
    assert workspace.query(PASSES.format(UNIQUE_EVENT_ID)) == [(1,)]
    event_id = _duplicate_an_event(workspace, "2999-01-01 00:00:00")
    for _ in range(2):  # a failure records nothing, so the next run sees the duplicate again
        code, output = _test_event_grain(workspace)
        assert code == 1, output
        assert "FAIL 1 " + UNIQUE_EVENT_ID in output
    assert workspace.query(PASSES.format(UNIQUE_EVENT_ID)) == [(1,)]
    with duckdb.connect(str(workspace.warehouse)) as con:
        con.execute(
            "delete from staging.base_web__events where event_id = ? "
            "and batch_run_started_at = timestamp '2999-01-01 00:00:00'",
            [event_id],
        )
    code, output = _test_event_grain(workspace)
    assert code == 0, output
    assert workspace.query(PASSES.format(UNIQUE_EVENT_ID)) == [(2,)]


def test_a_row_older_than_the_last_pass_is_out_of_scope_unless_full_scope(
    built, dbt_project: Path, tmp_path: Path
) -> None:
    """What scoping gives up, and the switch that takes it back: a hand edit that keeps an old
    batch stamp is not re-checked, until tests__full_scope (or --full-refresh) says so."""
    workspace = copied_workspace(built, tmp_path / "full_scope")
    _duplicate_an_event(workspace, "2000-01-01 00:00:00")
    code, output = _test_event_grain(workspace)
    assert code == 0, output
    code, output = _test_event_grain(workspace, tests__full_scope=True)
    assert code == 1, output
