"""Run dbt from Python with the project's conventions (repo root as project and profiles dir)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from segwarehouse.settings import Settings, pseudonym_key_env

# The dbt executable; default the one installed beside this Python.
DBT_ENV = "SEGMENTS_DBT"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt invocation."""

    success: bool
    returncode: int


def run_dbt(
    project_dir: Path,
    args: Sequence[str],
    dbt_vars: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> DbtResult:
    """Run dbt in a child process; its output goes straight to this process's terminal.

    The child gets the pseudonym key file (settings.pseudonym_key_env); without a usable key
    this raises PseudonymKeyError (one line saying how to create one) before dbt starts.

    A child process, not dbtRunner in-process: dbt-duckdb keeps the warehouse file open after
    the invocation, and DuckDB then refuses any other connection from this process to that
    file ("different configuration than existing connections"), so the summary that follows
    a build could not read it.

    On Linux the child gets SIGTERM when this process dies (prctl PR_SET_PDEATHSIG), so a
    killed refresh leaves no orphaned dbt holding the work warehouse's lock.
    """
    dbt = os.environ.get(DBT_ENV) or str(Path(sys.executable).parent / "dbt")
    command = [
        str(dbt),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    key_env = pseudonym_key_env(Settings.from_env(project_dir))
    completed = subprocess.run(
        command,
        cwd=project_dir,
        env={**os.environ, **key_env, **(env or {})},
        check=False,
        preexec_fn=die_with_parent(os.getpid()) if sys.platform == "linux" else None,
    )
    return DbtResult(success=completed.returncode == 0, returncode=completed.returncode)


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when the thread that started it dies (Linux).

    prctl is looked up here, before the fork: the child only calls it.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        if prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(126)

    return arm
