"""What a benchmark run is asked to do (BenchConfig), where one scale's files go
(ScaleDirs), one measured process (Measurement), and the defaults shared by the modules."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# The staging selection is the `staging` selector of selectors.yml (bench's `selector:<name>`
# is dbt 1.12's spelling; on dbt 1.11 it becomes --selector <name>, see `selection_args`).
DEFAULT_SELECT = "selector:staging"
# `segwarehouse check` exit codes that are a completed validation (see docs/data_quality.md).
QUALITY_OUTCOMES = {0: "passed", 3: "expectations failed"}
AUDIT_OUTCOMES = {0: "published", 3: "audit failed"}
TEST_NODE_TYPES = ("test", "unit_test")
DEFAULT_END_DATE = date(2026, 6, 30)
DEFAULT_SEED = 42
BASELINE_SQL = "benchmarks/staging_baseline.sql"
SEEDS_DIR = "seeds/reference"
SLOWEST_MODELS = 10
# The sources both sides must stage exactly alike (no tie-breaking involved in their counts).
MUST_MATCH = ("orders", "web_events")
DISPOSITIONS = ("raw", "staged", "quarantined", "duplicate", "superseded", "not_yet_visible")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and where to write; paths are absolute."""

    project_dir: Path
    customers: tuple[int, ...]
    fmt: str
    work_dir: Path
    report: Path
    json_path: Path
    select: tuple[str, ...]
    seed: int = DEFAULT_SEED
    end_date: date = DEFAULT_END_DATE
    threads: int = 2
    memory_limit: str = "8GB"
    baseline_sql: Path | None = None
    profiles_dir: Path | None = None
    command_line: str = ""
    quality_gate: bool = False
    refresh_day: bool = False

    @property
    def baseline_script(self) -> Path:
        """The baseline SQL script (default benchmarks/staging_baseline.sql)."""
        return self.baseline_sql or self.project_dir / BASELINE_SQL


@dataclass
class Measurement:
    """One measured child process."""

    seconds: float
    returncode: int
    peak_rss_bytes: int
    tree_peak_rss_bytes: int
    spill_peak_bytes: int
    load_before: float
    # (unix time, process-tree RSS bytes) samples for per-node peaks; not in the JSON.
    timeline: tuple[tuple[float, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "seconds": round(self.seconds, 3),
            "returncode": self.returncode,
            "peak_rss_bytes": self.peak_rss_bytes,
            "tree_peak_rss_bytes": self.tree_peak_rss_bytes,
            "spill_peak_bytes": self.spill_peak_bytes,
            "load_average_before": round(self.load_before, 2),
        }


@dataclass
class ScaleDirs:
    """Where one scale's files go."""

    root: Path
    raw: Path = field(init=False)
    truth: Path = field(init=False)
    spill: Path = field(init=False)
    target: Path = field(init=False)
    logs: Path = field(init=False)
    warehouse: Path = field(init=False)
    serving: Path = field(init=False)
    baseline_db: Path = field(init=False)
    warehouse_spill: Path = field(init=False)

    def __post_init__(self) -> None:
        """Derive the paths from the root."""
        self.raw = self.root / "raw"
        self.truth = self.root / "truth"
        self.spill = self.root / "spill"
        self.target = self.root / "target"
        self.logs = self.root / "logs"
        self.warehouse = self.root / "warehouse.duckdb"
        # What the audit-and-publish step of a refresh writes (segwarehouse.publish).
        self.serving = self.root / "serving.duckdb"
        self.baseline_db = self.root / "baseline.duckdb"
        # DuckDB's default temp_directory when the profile sets none.
        self.warehouse_spill = self.root / "warehouse.duckdb.tmp"

    def reset(self) -> None:
        """Remove what an earlier run left here (only the harness's own outputs)."""
        for folder in (
            self.raw,
            self.truth,
            self.spill,
            self.target,
            self.logs,
            self.warehouse_spill,
        ):
            shutil.rmtree(folder, ignore_errors=True)
        for database in (self.warehouse, self.baseline_db, self.serving):
            for path in (database, database.with_name(database.name + ".wal")):
                path.unlink(missing_ok=True)
        # The serving file's run log: the next publish's volume checks compare with it.
        self.serving.with_name(self.serving.name + ".runs.jsonl").unlink(missing_ok=True)
        for folder in (self.root, self.spill / "dbt", self.spill / "baseline"):
            folder.mkdir(parents=True, exist_ok=True)
