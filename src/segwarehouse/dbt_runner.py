"""Run dbt from Python with the project's conventions (repo root as project and profiles dir)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from segwarehouse.settings import Settings, pseudonym_key_env


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
    """
    dbt = Path(sys.executable).parent / "dbt"
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
        command, cwd=project_dir, env={**os.environ, **key_env, **(env or {})}, check=False
    )
    return DbtResult(success=completed.returncode == 0, returncode=completed.returncode)
