"""Run dbt from Python with the project's conventions (repo root as project and profiles dir)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbt.cli.main import dbtRunner


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt invocation."""

    success: bool
    failures: list[str]


def run_dbt(
    project_dir: Path,
    args: Sequence[str],
    dbt_vars: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> DbtResult:
    """Invoke dbt in-process; `env` is applied for the duration of the call."""
    command = [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    cwd = Path.cwd()
    try:
        os.chdir(project_dir)
        result = dbtRunner().invoke(command)
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return DbtResult(success=result.success, failures=_failures(result))


def _failures(result: object) -> list[str]:
    """Names of the nodes that errored or failed, when dbt got as far as running any."""
    node_results = getattr(getattr(result, "result", None), "results", None) or []
    return [
        str(node.node.unique_id)
        for node in node_results
        if str(getattr(node, "status", "")).lower() in {"error", "fail"}
    ]
