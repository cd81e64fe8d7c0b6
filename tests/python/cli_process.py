"""The installed `segwarehouse` command run in a subprocess, as a scheduler runs it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEGWAREHOUSE = Path(sys.executable).parent / "segwarehouse"
MF = Path(sys.executable).parent / "mf"


def run_segwarehouse(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`segwarehouse ARGS` from the project root, with os.environ updated by `env`; output
    captured as text, never raising on a non-zero exit."""
    return subprocess.run(
        [str(SEGWAREHOUSE), *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def mf_rows(project: Path, env: Mapping[str, str], *args: str) -> list[dict[str, str]]:
    """Rows of `mf query ARGS` (as text) run in the folder `project` (the project and profile
    files and target/semantic_manifest.json), with os.environ updated by `env`."""
    out = project / "out.csv"
    out.unlink(missing_ok=True)
    completed = subprocess.run(
        [str(MF), "query", *args, "--csv", str(out)],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0 and out.is_file(), completed.stdout + completed.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
