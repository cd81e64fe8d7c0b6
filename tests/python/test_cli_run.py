"""`segwarehouse run` (what `make run` calls) end to end on a small landing folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_DIR, Workspace


def test_run_builds_and_prints_the_summary(generated: Path, workspace: Workspace) -> None:
    env = {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(generated / "raw"),
        "SEGMENTS_WAREHOUSE": str(workspace.warehouse),
        "SEGMENTS_SERVING": str(workspace.scratch / "serving.duckdb"),
    }
    segwarehouse = Path(sys.executable).parent / "segwarehouse"
    completed = subprocess.run(
        [str(segwarehouse), "run", "--as-of-date", "2026-06-30"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Traceback" not in output
    assert f"warehouse: {workspace.warehouse}" in output
    assert "marts.dim_customers" in output
    assert "staging reconciliation" in output
    # run goes through the write-audit-publish gate: checks ran, the serving file was swapped in
    assert "published" in output
    assert (workspace.scratch / "serving.duckdb").is_file()
    runs = (workspace.scratch / "serving.duckdb.runs.jsonl").read_text().splitlines()
    assert len(runs) == 1 and '"status": "published"' in runs[0]
