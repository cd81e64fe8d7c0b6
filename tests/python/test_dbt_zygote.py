"""The suite's dbt launcher (tests/python/dbt_zygote.py) behaves as a dbt subprocess: same exit
code and output, and a warehouse file that holds every write when the call returns."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from conftest import FORK_DBT_ENV, DbtRun, Workspace, make_workspace, run_dbt_invocation
from segwarehouse.dbt_runner import DbtInvocation


def _without_times(output: str) -> list[str]:
    """dbt's lines without their leading clock time."""
    return [re.sub(r"^\S*\d\d:\d\d:\d\d\S*\s+", "", line) for line in output.splitlines()]


def _forked_and_plain(
    invocation: DbtInvocation, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[DbtRun, DbtRun]:
    forked = run_dbt_invocation(invocation, args)
    with monkeypatch.context() as patch:
        patch.setenv(FORK_DBT_ENV, "0")
        plain = run_dbt_invocation(invocation, args)
    return forked, plain


def test_exit_codes_and_output_are_a_subprocesses(
    tmp_path: Path, dbt_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from tmp_path: the forked child must take the request's working folder.
    invocation = DbtInvocation(dbt_project, working_dir=tmp_path)
    forked, plain = _forked_and_plain(invocation, monkeypatch, "debug", "--config-dir")
    assert forked.returncode == plain.returncode == 0
    assert "To view your profiles.yml file, run:" in forked.output
    assert _without_times(forked.output) == _without_times(plain.output)
    forked, plain = _forked_and_plain(invocation, monkeypatch, "no-such-command")
    assert forked.returncode == plain.returncode == 2
    assert "No such command 'no-such-command'" in forked.output


def test_a_builds_writes_are_in_the_file_when_the_call_returns(
    built: Workspace, tmp_path: Path
) -> None:
    """The dbt child exits as a process does (DuckDB checkpoints at exit), not with os._exit:
    the .duckdb file alone, copied right after the call, holds what the call wrote."""
    workspace = make_workspace(tmp_path)
    workspace.raw_dir.rmdir()
    workspace.raw_dir.symlink_to(built.raw_dir.resolve())
    run = workspace.dbt("seed", "--select", "rfm_segment_map", "--quiet")
    assert run.returncode == 0, run.output
    assert not workspace.warehouse.with_name(f"{workspace.warehouse.name}.wal").exists()
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(workspace.warehouse.read_bytes())
    with duckdb.connect(str(copy), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from reference.rfm_segment_map").fetchall()
    assert rows > 0
