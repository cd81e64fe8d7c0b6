"""Shared fixtures: run dbt against throw-away landing folders and warehouses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"


@dataclass
class DbtRun:
    """Result of one dbt subprocess."""

    returncode: int
    output: str


@dataclass
class Workspace:
    """A landing folder and a warehouse of one test, and a way to run dbt on them."""

    raw_dir: Path
    warehouse: Path
    scratch: Path

    def dbt(self, *args: str, dbt_vars: dict | None = None) -> DbtRun:
        """Run dbt from the project root with this workspace's landing folder and warehouse."""
        env = {
            **os.environ,
            "SEGMENTS_RAW_DIR": str(self.raw_dir),
            "SEGMENTS_WAREHOUSE": str(self.warehouse),
            "SEGMENTS_TEMP_DIR": str(self.scratch / "spill"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        command = [
            str(DBT),
            *args,
            "--target-path",
            str(self.scratch / "target"),
            "--log-path",
            str(self.scratch / "logs"),
        ]
        if dbt_vars:
            command += ["--vars", json.dumps(dbt_vars)]
        completed = subprocess.run(
            command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
        )
        return DbtRun(completed.returncode, completed.stdout + completed.stderr)

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query against the warehouse (read-only)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


def make_workspace(root: Path) -> Workspace:
    """A fresh workspace under root."""
    raw_dir = root / "raw"
    raw_dir.mkdir(parents=True)
    (root / "spill").mkdir()
    return Workspace(raw_dir=raw_dir, warehouse=root / "warehouse.duckdb", scratch=root)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, empty landing folder and warehouse for one test."""
    return make_workspace(tmp_path)
