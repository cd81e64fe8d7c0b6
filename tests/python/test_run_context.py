"""The daily job: a `dbt run` on consecutive days with no --vars, in a kept target folder (so
dbt partially parses with the previous day's manifest), builds the Python models as of the
day it runs, like the SQL models. The date comes from model int_run_context, rendered when it
runs; a date rendered into a YAML config is fixed at the last full parse (the bug this
guards against: the ML marts were dated, and their retrain anchors computed, as of that day).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from conftest import DEBUG_FILE_LOG, DbtRun, Workspace, copied_workspace
from segwarehouse.run_context import RunContextError, run_as_of_date

# dbt in a child process whose clock reads the given instant (time-machine), so that
# run_started_at, and with it the default as_of_date, is that day.
DBT_AT = """
import sys
import time_machine
from dbt.cli.main import cli
with time_machine.travel(sys.argv[1], tick=True):
    cli(sys.argv[2:], prog_name="dbt")
"""

# A Python model that reads the date, the Python model it reads, and the context.
SELECTION = ("int_run_context", "clv_model_params", "customer_clv")


def dbt_at(workspace: Workspace, instant: str, *args: str) -> DbtRun:
    """`dbt <args>` as of `instant` (ISO 8601, UTC), with no --vars, in the workspace's
    target folder (kept between calls, as a scheduled job keeps its project folder)."""
    invocation = workspace.invocation(env=DEBUG_FILE_LOG)  # the test reads debug lines
    # The faked-clock wrapper stands in for the dbt executable; the rest of the line is dbt's.
    command = [sys.executable, "-c", DBT_AT, instant, *invocation.command(*args)[1:]]
    completed = subprocess.run(
        command,
        cwd=invocation.cwd,
        env=invocation.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    return DbtRun(completed.returncode, completed.stdout + completed.stderr)


@pytest.fixture
def daily(built: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the built warehouse on the same landing folder (the session's stays as is)."""
    return copied_workspace(built, tmp_path / "daily")


def test_python_models_take_the_run_day_on_a_partially_parsed_daily_run(
    daily: Workspace,
) -> None:
    log = daily.scratch / "logs" / "dbt.log"
    first = dbt_at(daily, "2026-07-01T06:00:00+00:00", "run", "--select", *SELECTION)
    assert first.returncode == 0, first.output
    first_log_size = log.stat().st_size

    second = dbt_at(daily, "2026-07-02T06:00:00+00:00", "run", "--select", *SELECTION)
    assert second.returncode == 0, second.output
    second_log = log.read_text(encoding="utf-8", errors="replace")[first_log_size:]
    # The premise: the second day reused the first day's parse.
    assert "Partial parsing enabled" in second_log, second_log[-3000:]
    assert "Unable to do partial parsing" not in second_log

    day = date(2026, 7, 2)
    assert daily.query("select distinct as_of_date from marts.customer_clv") == [(day,)]
    assert daily.query("select distinct fitted_at from marts.clv_model_params") == [(day,)]
    assert daily.query(
        "select as_of_date, retrain_anchor_date from intermediate.int_run_context"
    ) == [(day, date(2026, 6, 29))]


def test_run_as_of_date_needs_exactly_one_row() -> None:
    con = duckdb.connect()
    one = con.sql("select date '2026-07-02' as as_of_date")
    assert run_as_of_date(one) == "2026-07-02"
    two = con.sql("select date '2026-07-02' as as_of_date union all select date '2026-07-03'")
    with pytest.raises(RunContextError, match=r"holds 2 rows.*dbt build --select int_run_context"):
        run_as_of_date(two)
    empty = con.sql("select date '2026-07-02' as as_of_date where false")
    with pytest.raises(RunContextError, match="holds 0 rows"):
        run_as_of_date(empty)
