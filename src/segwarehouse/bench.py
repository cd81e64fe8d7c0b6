"""Benchmark harness: generator, `dbt build` of staging, and a hand-written DuckDB floor.

For each scale (number of customers) it generates the demo data, runs `dbt build` on it in a
subprocess against a fresh warehouse, runs ``benchmarks/staging_baseline.sql`` (the same
staging work written as one plain DuckDB script) in a fresh Python process on the same files,
and reports both side by side: the machine these run on is shared and noisy, so the figure to
read is the ratio dbt / baseline measured in the same run, not the absolute seconds.

Peak memory is the kernel's own peak resident set size of each measured process, taken by a
tiny wrapper process that starts it and reads its ``wait4`` rusage (so neither an earlier
child's peak nor this process's size at fork can leak in), next to the peak of the summed RSS
of its process tree sampled from /proc.

``python -m segwarehouse.bench`` runs the baseline script (the child process the harness
times); use ``segwarehouse bench`` to run the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import duckdb

from segwarehouse.dbt_runner import DbtInvocation
from segwarehouse.landing import INCREMENTAL_BASE_MODELS, land_daily
from segwarehouse.settings import (
    OPTIONAL_SOURCES,
    REQUIRED_SOURCES,
    SERVING_ENV,
    WAREHOUSE_ENV,
    Settings,
    pseudonym_key_env,
)
from segwarehouse.sqltext import sql_literal

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
REPORT_MARKER = "<!-- Everything below this line is written by `segwarehouse bench`. -->"
SAMPLE_SECONDS = 0.1
LAYER_ORDER = {"staging": 0, "intermediate": 1, "marts": 2}
SLOWEST_MODELS = 10
# The sources both sides must stage exactly alike (no tie-breaking involved in their counts).
MUST_MATCH = ("orders", "web_events")
PARQUET_LANDING = (
    "create or replace macro landing(name) as table "
    "select file_row_number as _row, struct_pack(*columns(* exclude (file_row_number))) as raw "
    "from read_parquet(getvariable('raw_dir') || '/' || name || '.parquet', "
    "file_row_number = true)"
)
CSV_OPTIONS = "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"'"
# Spawns argv[2:], waits, and writes "<exit code> <peak RSS KiB>" of that child to argv[1].
RUSAGE_WRAPPER = (
    "import os, sys\n"
    "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')\n"
)
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
# "12 of 109 OK created sql table model staging.base_web__events ..... [OK in 309.41s]"
NODE_LINE = re.compile(
    r" \d+ of \d+ (?P<status>OK|PASS|ERROR|FAIL|WARN) (?P<what>.+?) \.*\s*"
    r"\[[^\]]*?in (?P<seconds>[\d.]+)s\]"
)
MATCH_TEXT = {True: "yes", False: "**no**", None: "n/a"}
LOG_STATUSES = {"OK": "success", "PASS": "pass", "ERROR": "error", "FAIL": "fail", "WARN": "warn"}
# "Not implemented Error: ...", "Database Error in model ...", "Out of Memory Error: ..."
ERROR_LINE = re.compile(r"^[A-Z][\w ]*?Error\b")
DISPOSITIONS = ("raw", "staged", "quarantined", "duplicate", "superseded", "not_yet_visible")

Progress = Callable[[str], None]

DEFAULT_PREAMBLE = """# Benchmarks

How long the staging layer takes to build and how much memory it needs, at demo scale and at
a million customers, next to a floor: the same staging work written by hand as one DuckDB
script (`benchmarks/staging_baseline.sql`), no dbt.

## What is measured

For each scale, in one run, on the same landing files:

- **generator**: `segwarehouse generate` (in-process), seconds per step and rows per source.
- **dbt build**: `dbt build --selector staging` (selectors.yml: `+staging`,
  `marts.data_quality` and the seeds in seeds/quality, cautious indirect selection) in a
  subprocess against a fresh
  warehouse file: seeds, the eight `base_` tables, the `stg_` views,
  `audit.quarantined_rows`, `audit.source_reconciliation` and their tests (the quarantine
  gate among them).
  Wall time of the whole process (start-up and parsing included), dbt's own execution time
  (`elapsed_time` in run_results.json), per-model times, peak RSS.
- **baseline**: `benchmarks/staging_baseline.sql` in a fresh Python process through the
  `duckdb` package, with the same threads and memory_limit, into a fresh database file: parse
  and normalise every raw row, the quarantine checks, exact-duplicate collapse, key conflicts,
  latest-version-wins for CRM, the quarantine and reconciliation tables. No tests.
- **row counts**: staged rows per source from both sides' `audit.source_reconciliation`.
  Orders and web events must match exactly; the other sources are expected to match too.

Peak RSS is the kernel's peak resident set size of the measured process itself, read by a
tiny wrapper process that starts it and waits for it (`wait4` rusage), so neither an earlier
child's peak nor the harness's own size can leak in; the sampled peak of the whole process
tree's summed RSS (from /proc, every 0.1 s) is shown beside it, and so is the peak disk space
of the spill folders (DuckDB's temp_directory), sampled the same way.

## How to reproduce

```bash
make bench          # 10k and 1M customers, parquet; rewrites this file and benchmarks.json
make bench-smoke    # 10k only, report in data/bench/ (leaves this file alone)
.venv/bin/segwarehouse bench --customers 10000 --customers 1000000 --format parquet \\
    --work-dir data/bench --report docs/benchmarks.md --json benchmarks/results/benchmarks.json
```

`SEGMENTS_MEMORY_LIMIT` (default 8GB) and `SEGMENTS_DUCKDB_THREADS` (default 2) apply to all
three. Generated data, warehouses and logs stay in the work dir (git-ignored).

## How to read it

The machine is shared and noisy: absolute seconds move from run to run, so every dbt figure
sits next to the baseline measured minutes apart in the same run. Read **dbt / baseline**:
1.0 would mean dbt adds nothing over the hand-written floor; the wall ratio includes dbt's
start-up and parsing (a fixed few seconds that dominate at small scale), the execution ratio
compares only the SQL work. The ratios are given only for the default selection: the floor
does the staging layer and its data-quality marts, so a wider `--select` (a whole-project
build) shows n/a rather than a ratio of unlike work. The load average before each
measurement is recorded and a note flags any measurement that started with the load above
`nproc`. When a process reaches the memory_limit its peak RSS is the cap (DuckDB fills its
buffer pool up to it), so compare the spill to disk instead.
"""


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


# --------------------------------------------------------------------------- measuring


def measure(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    spill_dirs: Sequence[Path] = (),
) -> Measurement:
    """Run `command` to completion, output to log_path; wall time, peak RSS and peak spill.

    The command is started by a fresh, tiny Python process (RUSAGE_WRAPPER) that waits for it
    and records its rusage: a child forked straight from this process would report this
    process's own resident size (inherited at fork) as its peak when that is larger.
    """
    load_before = os.getloadavg()[0]
    rusage_path = log_path.with_suffix(".rusage")
    rusage_path.unlink(missing_ok=True)
    wrapper = [sys.executable, "-S", "-c", RUSAGE_WRAPPER, str(rusage_path), *command]
    with log_path.open("w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            wrapper, cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        sampler = _Sampler(process.pid, spill_dirs)
        sampler.start()
        wrapper_code = process.wait()
        seconds = time.perf_counter() - started
        sampler.stop()
    returncode, peak_kib = _read_rusage(rusage_path, wrapper_code)
    return Measurement(
        seconds=seconds,
        returncode=returncode,
        peak_rss_bytes=peak_kib * 1024,
        tree_peak_rss_bytes=sampler.peak_bytes,
        spill_peak_bytes=sampler.spill_peak_bytes,
        load_before=load_before,
        timeline=tuple(sampler.timeline),
    )


def _read_rusage(path: Path, wrapper_code: int) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) written by the wrapper; the wrapper's code if it died."""
    try:
        code, peak_kib = path.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return (wrapper_code or 1), 0
    return int(code), int(peak_kib)


class _Sampler(threading.Thread):
    """Samples the summed RSS of a process tree and the disk used by spill folders."""

    def __init__(self, pid: int, spill_dirs: Sequence[Path]) -> None:
        """Watch `pid`, its descendants and the spill folders."""
        super().__init__(daemon=True)
        self.pid = pid
        self.spill_dirs = tuple(spill_dirs)
        self.peak_bytes = 0
        self.spill_peak_bytes = 0
        # (unix time, process-tree RSS) of every sample: per-node peaks come from this.
        self.timeline: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        """Sample until stop()."""
        while not self._done.wait(SAMPLE_SECONDS):
            rss = tree_rss_bytes(self.pid)
            self.timeline.append((time.time(), rss))
            self.peak_bytes = max(self.peak_bytes, rss)
            spilled = sum(disk_usage_bytes(folder) for folder in self.spill_dirs)
            self.spill_peak_bytes = max(self.spill_peak_bytes, spilled)

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._done.set()
        self.join()


def tree_rss_bytes(pid: int) -> int:
    """Summed resident set size of `pid` and its descendants (0 once they are gone)."""
    children = _children_by_parent()
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += _rss_bytes(current)
        pending.extend(children.get(current, []))
    return total


def disk_usage_bytes(folder: Path) -> int:
    """Bytes on disk (allocated blocks) of the files under folder; 0 if it does not exist."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- the three runs


def run_generator(config: BenchConfig, customers: int, dirs: ScaleDirs) -> dict[str, Any]:
    """Generate the landing files (in-process) and return timings and row counts."""
    from segwarehouse.generator import generate
    from segwarehouse.generator.writer import OutputFormat

    load_before = os.getloadavg()[0]
    summary = generate(
        customers=customers,
        seed=config.seed,
        out_dir=dirs.raw,
        truth_dir=dirs.truth,
        end_date=config.end_date,
        fmt=cast("OutputFormat", config.fmt),
        threads=config.threads,
        memory_limit=config.memory_limit,
    )
    return {
        "seconds": round(summary.total_seconds, 3),
        "step_seconds": {step: round(sec, 3) for step, sec in summary.step_seconds.items()},
        "rows": dict(summary.rows),
        "total_rows": sum(summary.rows.values()),
        "load_average_before": round(load_before, 2),
    }


def build_vars(end_date: date) -> dict[str, str]:
    """dbt vars: as of the generator's last day, loaded the next midnight."""
    loaded_at = datetime.combine(end_date + timedelta(days=1), datetime.min.time())
    return {"as_of_date": end_date.isoformat(), "segments__loaded_at": str(loaded_at)}


def dbt_invocation(
    config: BenchConfig, dirs: ScaleDirs, as_of_date: date | None = None
) -> DbtInvocation:
    """The scale's dbt: its landing folder, warehouse, target and log folders, memory limit and
    threads, vars as of the generator's last day by default."""
    # Generated data: without a configured key, a throw-away one in the scale's work folder.
    key_env = pseudonym_key_env(
        Settings.from_env(config.project_dir), scratch_key=dirs.root / ".pseudonym.key"
    )
    return DbtInvocation(
        config.project_dir,
        raw_dir=dirs.raw,
        warehouse=dirs.warehouse,
        target_path=dirs.target,
        log_path=dirs.logs,
        profiles_dir=config.profiles_dir,
        dbt_vars=build_vars(as_of_date or config.end_date),
        extra_env={
            **key_env,
            "SEGMENTS_MEMORY_LIMIT": config.memory_limit,
            "SEGMENTS_DUCKDB_THREADS": str(config.threads),
        },
    )


def dbt_command(config: BenchConfig, dirs: ScaleDirs, as_of_date: date | None = None) -> list[str]:
    """The `dbt build` invocation of one scale (as of the generator's last day by default)."""
    invocation = dbt_invocation(config, dirs, as_of_date)
    return invocation.command(
        "build", *selection_args(config.select), "--indirect-selection", "cautious"
    )


def selection_args(select: Sequence[str]) -> list[str]:
    """dbt's selection arguments for bench's --select tokens: a lone `selector:<name>` (a
    selector of selectors.yml) is `--selector <name>`, anything else `--select <tokens>`."""
    if len(select) == 1 and select[0].startswith("selector:"):
        return ["--selector", select[0].removeprefix("selector:")]
    return ["--select", *select]


def parse_command(config: BenchConfig, dirs: ScaleDirs) -> list[str]:
    """`dbt parse` with the vars of `dbt_command` (same target folder): a full parse when the
    vars changed since the target's last parse."""
    return dbt_invocation(config, dirs).command("parse")


def dbt_env(config: BenchConfig, dirs: ScaleDirs) -> dict[str, str]:
    """The environment of the dbt subprocess (profiles.yml reads these)."""
    return dbt_invocation(config, dirs).environment()


def measure_dbt(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    target: Path,
    spill_dirs: Sequence[Path] = (),
) -> dict[str, Any]:
    """Measure one dbt invocation: wall, peak RSS, per-node times (run_results.json, else the
    log) with each node's layer and peak RSS, and per-layer totals."""
    measured = measure(command, env, cwd, log_path, spill_dirs=spill_dirs)
    result: dict[str, Any] = {"success": measured.returncode == 0, **measured.to_dict()}
    run_results = target / "run_results.json"
    result.update(read_run_results(run_results) if run_results.is_file() else read_log(log_path))
    annotate_nodes(result["nodes"], target / "manifest.json", measured.timeline)
    result["layers"] = layer_totals(result["nodes"], measured.timeline)
    return result


def run_dbt_build(config: BenchConfig, dirs: ScaleDirs) -> dict[str, Any]:
    """Time `dbt build`; per-node times from run_results.json; staged counts."""
    log_path = dirs.root / "dbt_build.log"
    result = measure_dbt(
        dbt_command(config, dirs),
        dbt_env(config, dirs),
        config.project_dir,
        log_path,
        dirs.target,
        spill_dirs=(dirs.spill / "dbt", dirs.warehouse_spill),
    )
    result["counts"] = reconciliation_counts(dirs.warehouse)
    result["database_bytes"] = _file_size(dirs.warehouse)
    result["log"] = str(log_path)
    if not result["success"]:
        result["error"] = failure_summary(log_path, result["failed_nodes"])
    return result


def run_refresh_day(
    config: BenchConfig, dirs: ScaleDirs, full: Mapping[str, Any]
) -> dict[str, Any]:
    """The daily job: the same files landed as daily deliveries (segwarehouse.landing), an
    untimed build on all but the last day, then the last day lands and the same `dbt build` is
    timed. Only the large sources' base models are incremental; everything downstream is
    rebuilt. Its staged rows must equal the full build's."""
    daily = ScaleDirs(dirs.root / "refresh")
    daily.reset()
    landed = land_daily(dirs.raw, daily.raw, config.end_date)
    parked = daily.root / "parked"
    parked.mkdir(exist_ok=True)
    for source, path in landed.last_day_files.items():
        shutil.move(path, parked / f"{source}.parquet")
    env = dbt_env(config, daily)
    setup = measure(
        dbt_command(config, daily, config.end_date - timedelta(days=1)),
        env,
        config.project_dir,
        daily.root / "dbt_setup.log",
    )
    result: dict[str, Any] = {
        "setup_seconds": round(setup.seconds, 3),
        "history_rows": landed.history_rows,
        "delivery_rows": landed.last_day_rows,
    }
    if setup.returncode != 0:
        return _refresh_failed(
            result, setup.returncode, daily.root / "dbt_setup.log", "setup build"
        )
    for source, path in landed.last_day_files.items():
        shutil.move(parked / f"{source}.parquet", path)
    # The day's as_of_date is a new --vars value, and dbt reparses the whole project when the
    # vars change. A scheduled job that lets as_of_date default to the run date passes no
    # vars and reuses yesterday's parse, so the parse is timed apart from the refresh.
    parse = measure(
        parse_command(config, daily), env, config.project_dir, daily.root / "dbt_parse.log"
    )
    result["parse_seconds"] = round(parse.seconds, 3)
    if parse.returncode != 0:
        return _refresh_failed(result, parse.returncode, daily.root / "dbt_parse.log", "dbt parse")
    log_path = daily.root / "dbt_refresh.log"
    refresh = measure_dbt(
        dbt_command(config, daily), env, config.project_dir, log_path, daily.target
    )
    counts = reconciliation_counts(daily.warehouse)
    staged = {source: entry.get("staged") for source, entry in counts.items()}
    full_staged = {source: entry.get("staged") for source, entry in full["counts"].items()}
    result.update(
        {
            "success": refresh["success"],
            "returncode": refresh["returncode"],
            "seconds": refresh["seconds"],
            "execution_seconds": refresh.get("execution_seconds"),
            "peak_rss_bytes": refresh["peak_rss_bytes"],
            "load_average_before": refresh["load_average_before"],
            "slowest_nodes": refresh["nodes"][:SLOWEST_MODELS],
            "incremental_models": {
                node["name"]: node["seconds"]
                for node in refresh["nodes"]
                if node["name"] in INCREMENTAL_BASE_MODELS
            },
            "ratio_to_full_build": _ratio(refresh["seconds"], full["seconds"]),
            "staged_rows": staged,
            "staged_rows_equal_full_build": staged == full_staged,
            "log": str(log_path),
        }
    )
    if not refresh["success"]:
        result["error"] = failure_summary(log_path, refresh["failed_nodes"])
    elif config.quality_gate:
        result["audit_publish"] = measure_audit_publish(
            daily, env, config.project_dir, config.end_date
        )
        result["job_seconds"] = round(result["seconds"] + result["audit_publish"]["seconds"], 3)
    return result


def audit_publish_command(as_of_date: date, docs_dir: Path) -> list[str]:
    """The scheduled job's steps after its dbt build: `segwarehouse refresh --skip-build`
    (the GX suites, volume and privacy checks, then the copy and swap of the serving file)."""
    return [
        sys.executable,
        "-m",
        "segwarehouse.cli",
        "refresh",
        "--skip-build",
        "--as-of-date",
        as_of_date.isoformat(),
        "--docs-dir",
        str(docs_dir),
    ]


def measure_audit_publish(
    dirs: ScaleDirs, env: Mapping[str, str], cwd: Path, as_of_date: date
) -> dict[str, Any]:
    """Time the audit and publish of a built warehouse into `<root>/serving.duckdb`, as the
    scheduled `segwarehouse refresh` runs them after its build. Exit 3 (the audit failed, the
    serving file left as it was) is still a measurement: the report says which."""
    log_path = dirs.root / "audit_publish.log"
    command = audit_publish_command(as_of_date, dirs.root / "data_docs")
    paths = {WAREHOUSE_ENV: str(dirs.warehouse), SERVING_ENV: str(dirs.serving)}
    measured = measure(command, {**env, **paths}, cwd, log_path)
    outcome = AUDIT_OUTCOMES.get(measured.returncode, f"error (exit {measured.returncode})")
    return {
        "outcome": outcome,
        "published": measured.returncode == 0,
        "seconds": round(measured.seconds, 3),
        "returncode": measured.returncode,
        "peak_rss_bytes": measured.peak_rss_bytes,
        "serving_bytes": _file_size(dirs.serving),
        "log": str(log_path),
    }


def _refresh_failed(
    result: Mapping[str, Any], returncode: int, log: Path, step: str
) -> dict[str, Any]:
    """The refresh result when a step before the timed build failed: its log's tail."""
    return {
        **result,
        "success": False,
        "returncode": returncode,
        "seconds": 0.0,
        "error": f"{step} failed: {_tail(log, 20)}",
    }


def quality_gate_command(warehouse: Path, docs_dir: Path) -> list[str]:
    """`segwarehouse check` on a built warehouse, read-only (nothing recorded)."""
    return [
        sys.executable,
        "-m",
        "segwarehouse.cli",
        "check",
        "--warehouse",
        str(warehouse),
        "--docs-dir",
        str(docs_dir),
        "--no-record",
    ]


def measure_quality_gate(
    warehouse: Path, env: Mapping[str, str], cwd: Path, log_path: Path
) -> dict[str, Any]:
    """Time the Great Expectations gate on a built warehouse. Exit 3 (an expectation failed)
    is still a measurement: the report says which outcome it timed."""
    command = quality_gate_command(warehouse, log_path.parent / "data_docs")
    measured = measure(command, env, cwd, log_path)
    outcome = QUALITY_OUTCOMES.get(measured.returncode, f"error (exit {measured.returncode})")
    return {
        "outcome": outcome,
        "ran": measured.returncode in QUALITY_OUTCOMES,
        "seconds": round(measured.seconds, 3),
        "returncode": measured.returncode,
        "peak_rss_bytes": measured.peak_rss_bytes,
        "log": str(log_path),
        "failures": [line.strip() for line in _clean_lines(log_path) if "FAIL " in line][:10],
    }


def run_quality_gate(config: BenchConfig, dirs: ScaleDirs) -> dict[str, Any]:
    """The data-quality gate of one scale, after its dbt build."""
    return measure_quality_gate(
        dirs.warehouse, dbt_env(config, dirs), config.project_dir, dirs.root / "quality_gate.log"
    )


def quality_share(nodes: Sequence[Mapping[str, Any]], gate: Mapping[str, Any]) -> dict[str, Any]:
    """How much of the build's work is validation: dbt's data and unit tests (summed node
    seconds) plus the GX gate's wall seconds, over all node seconds plus the gate. Summed node
    seconds, not dbt's wall time, so tests running beside a model are not counted as free."""
    totals = resource_totals(nodes)
    test_seconds = sum(totals.get(kind, {}).get("seconds", 0.0) for kind in TEST_NODE_TYPES)
    node_seconds = sum(entry["seconds"] for entry in totals.values())
    gate_seconds = float(gate["seconds"]) if gate["ran"] else 0.0
    whole = node_seconds + gate_seconds
    return {
        "gate": dict(gate),
        "dbt_test_seconds": round(test_seconds, 3),
        "node_seconds": round(node_seconds, 3),
        "share": round((test_seconds + gate_seconds) / whole, 4) if whole and gate["ran"] else None,
    }


def baseline_command(config: BenchConfig, dirs: ScaleDirs) -> list[str]:
    """The fresh Python process that runs the baseline script."""
    return [
        sys.executable,
        "-m",
        "segwarehouse.bench",
        "--script",
        str(config.baseline_script),
        "--database",
        str(dirs.baseline_db),
        "--raw-dir",
        str(dirs.raw),
        "--seeds-dir",
        str(config.project_dir / SEEDS_DIR),
        "--format",
        config.fmt,
        "--as-of-date",
        config.end_date.isoformat(),
        "--threads",
        str(config.threads),
        "--memory-limit",
        config.memory_limit,
        "--temp-dir",
        str(dirs.spill / "baseline"),
        "--result",
        str(dirs.root / "baseline_result.json"),
    ]


def run_baseline(config: BenchConfig, dirs: ScaleDirs) -> dict[str, Any]:
    """Time the hand-written DuckDB script in a fresh process."""
    log_path = dirs.root / "baseline.log"
    measured = measure(
        baseline_command(config, dirs),
        dict(os.environ),
        config.project_dir,
        log_path,
        spill_dirs=(dirs.spill / "baseline",),
    )
    result: dict[str, Any] = {"success": measured.returncode == 0, **measured.to_dict()}
    result_path = dirs.root / "baseline_result.json"
    if result["success"] and result_path.is_file():
        result.update(json.loads(result_path.read_text(encoding="utf-8")))
    else:
        result["counts"] = {}
        result["error"] = _tail(log_path, 20)
    result["database_bytes"] = _file_size(dirs.baseline_db)
    result["log"] = str(log_path)
    return result


# --------------------------------------------------------------------------- reading results


def read_run_results(path: Path) -> dict[str, Any]:
    """dbt's execution time, per-node times (slowest first) and failed nodes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    nodes = [_node_timing(node) for node in data.get("results", [])]
    return {
        "timings_from": "run_results.json",
        "execution_seconds": round(float(data.get("elapsed_time") or 0.0), 3),
        **_sorted_nodes(nodes),
    }


def read_log(path: Path) -> dict[str, Any]:
    """Per-node times from dbt's console log, for a run that wrote no run_results.json."""
    nodes = []
    for line in _clean_lines(path):
        match = NODE_LINE.search(line)
        if match:
            nodes.append(_log_node(match["status"], match["what"].strip(), match["seconds"]))
    return {
        "timings_from": "dbt log (dbt wrote no run_results.json)",
        "execution_seconds": None,
        **_sorted_nodes(nodes),
    }


def _log_node(status: str, what: str, seconds: str) -> dict[str, Any]:
    if what.startswith("hook:"):
        kind = "operation"
    elif " model " in f" {what} ":
        kind = "model"
    elif "seed file" in what:
        kind = "seed"
    elif "::" in what:
        kind = "unit_test"
    else:
        kind = "test"
    name = what.split()[-1].rsplit(".", 1)[-1] if kind in {"model", "seed"} else what
    return {
        "unique_id": f"{kind}.{name}",
        "resource_type": kind,
        "name": name,
        "status": LOG_STATUSES[status],
        "seconds": float(seconds),
        "message": None,
    }


def _sorted_nodes(nodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Nodes slowest first, and the failed ones in the order they ran."""
    failed = [
        {"unique_id": node["unique_id"], "status": node["status"], "message": node["message"]}
        for node in nodes
        if node["status"] in {"error", "fail", "runtime error"}
    ]
    ordered = sorted(nodes, key=lambda node: node["seconds"], reverse=True)
    return {"nodes": ordered, "failed_nodes": failed}


def _node_timing(node: Mapping[str, Any]) -> dict[str, Any]:
    unique_id = str(node.get("unique_id", ""))
    stamps = [
        datetime.fromisoformat(str(step[key]).replace("Z", "+00:00")).timestamp()
        for step in node.get("timing") or []
        for key in ("started_at", "completed_at")
        if step.get(key)
    ]
    return {
        "unique_id": unique_id,
        "resource_type": unique_id.split(".", 1)[0],
        "name": unique_id.rsplit(".", 1)[-1],
        "status": str(node.get("status", "")),
        "seconds": round(float(node.get("execution_time") or 0.0), 3),
        "started_at": min(stamps) if stamps else None,
        "completed_at": max(stamps) if stamps else None,
        "message": node.get("message"),
    }


def annotate_nodes(
    nodes: Sequence[dict[str, Any]], manifest: Path, timeline: Sequence[tuple[float, int]]
) -> None:
    """Add each node's layer (folder under models/ or python_models/), language and the peak
    process-tree RSS sampled while it ran (shared with the node running beside it)."""
    files: dict[str, str] = {}
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = {key: node.get("original_file_path") or "" for key, node in data["nodes"].items()}
    for node in nodes:
        path = Path(files.get(node["unique_id"], ""))
        parts = path.parts
        in_models = len(parts) > 2 and parts[0].endswith("models")
        area = parts[1:3] if len(parts) > 3 else parts[1:2]
        node["layer"] = "/".join(area) if in_models else None
        node["language"] = "python" if path.suffix == ".py" else "sql"
        node["peak_rss_bytes_while_running"] = _peak_between(
            timeline, node.get("started_at"), node.get("completed_at")
        )


def layer_totals(
    nodes: Sequence[Mapping[str, Any]], timeline: Sequence[tuple[float, int]]
) -> list[dict[str, Any]]:
    """Per layer: model count, summed model seconds, the wall span from its first model's
    start to its last model's end, and the peak process-tree RSS in that span."""
    layers: dict[str, list[Mapping[str, Any]]] = {}
    for node in nodes:
        if node["resource_type"] == "model" and node.get("layer"):
            layers.setdefault(node["layer"], []).append(node)
    totals = []
    for layer, members in layers.items():
        starts = [node["started_at"] for node in members if node.get("started_at")]
        ends = [node["completed_at"] for node in members if node.get("completed_at")]
        start, end = (min(starts), max(ends)) if starts and ends else (None, None)
        totals.append(
            {
                "layer": layer,
                "models": len(members),
                "model_seconds": round(sum(node["seconds"] for node in members), 3),
                "span_seconds": round(end - start, 3) if start and end else None,
                "peak_rss_bytes": _peak_between(timeline, start, end),
            }
        )
    return sorted(
        totals,
        key=lambda entry: (LAYER_ORDER.get(entry["layer"].split("/")[0], 99), entry["layer"]),
    )


def _peak_between(
    timeline: Sequence[tuple[float, int]], start: float | None, end: float | None
) -> int | None:
    if start is None or end is None:
        return None
    samples = [rss for moment, rss in timeline if start <= moment <= end]
    return max(samples) if samples else None


def resource_totals(nodes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Count and summed seconds per resource type (model, test, seed, unit_test)."""
    totals: dict[str, dict[str, float]] = {}
    for node in nodes:
        entry = totals.setdefault(node["resource_type"], {"count": 0, "seconds": 0.0})
        entry["count"] += 1
        entry["seconds"] = round(entry["seconds"] + node["seconds"], 3)
    return totals


def reconciliation_counts(database: Path) -> dict[str, dict[str, int]]:
    """Per source: raw and per-disposition row counts from audit.source_reconciliation."""
    if not database.is_file():
        return {}
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            return connection_counts(con)
    except duckdb.Error:
        return {}


def connection_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """audit.source_reconciliation of an open connection, keyed by source."""
    rows = con.execute(
        "select source_name, "
        + ", ".join(f"{column}_rows" for column in DISPOSITIONS)
        + " from audit.source_reconciliation order by source_name"
    ).fetchall()
    return {row[0]: dict(zip(DISPOSITIONS, map(int, row[1:]), strict=True)) for row in rows}


def _clean_lines(path: Path) -> list[str]:
    """A log's lines without terminal colour codes."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return ANSI_CODE.sub("", text).splitlines()


def compare_counts(
    dbt_counts: Mapping[str, Mapping[str, int]], baseline_counts: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, Any]]:
    """Staged rows per source on both sides."""
    comparison: dict[str, dict[str, Any]] = {}
    for source in sorted(set(dbt_counts) | set(baseline_counts)):
        dbt_staged = dbt_counts.get(source, {}).get("staged")
        baseline_staged = baseline_counts.get(source, {}).get("staged")
        comparison[source] = {
            "raw": (dbt_counts.get(source) or baseline_counts.get(source) or {}).get("raw"),
            "dbt_staged": dbt_staged,
            "baseline_staged": baseline_staged,
            "match": None
            if dbt_staged is None or baseline_staged is None
            else dbt_staged == baseline_staged,
        }
    return comparison


def failure_summary(log_path: Path, failed_nodes: Sequence[Mapping[str, Any]]) -> str:
    """What went wrong: each distinct error message with its count, the first failed node."""
    messages: dict[str, int] = {}
    for line in _clean_lines(log_path):
        text = line.strip()
        if ERROR_LINE.match(text):
            messages[text] = messages.get(text, 0) + 1
    if not messages:
        return _tail(log_path, 30)
    summary = "; ".join(f"{count} x {text}" for text, count in messages.items())
    if failed_nodes:
        summary += f" (first failed node: {failed_nodes[0]['unique_id']})"
    return summary


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return f"(no log at {path})"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _file_size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


# --------------------------------------------------------------------------- orchestration


def run(config: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Benchmark every scale; the report and JSON are rewritten after each one."""
    say = progress or (lambda _line: None)
    data: dict[str, Any] = {
        "started_at": _now(),
        "machine": machine_info(),
        "settings": _settings(config),
        "commands": {"bench": config.command_line},
        "scales": [],
    }
    for customers in config.customers:
        data["scales"].append(bench_scale(config, customers, say))
        data["finished_at"] = _now()
        write_outputs(config, data)
    return data


def bench_scale(config: BenchConfig, customers: int, say: Progress) -> dict[str, Any]:
    """Generator, dbt build and baseline at one scale, and their comparison."""
    dirs = ScaleDirs(config.work_dir / f"c{customers}")
    dirs.reset()
    say(f"[{customers:,} customers] generating {config.fmt} into {dirs.raw}")
    generator = run_generator(config, customers, dirs)
    say(f"[{customers:,}] generated {generator['total_rows']:,} rows in {generator['seconds']}s")
    dbt = run_dbt_build(config, dirs)
    say(f"[{customers:,}] dbt build: {_outcome(dbt)} in {dbt['seconds']}s ({dbt['log']})")
    quality = None
    if config.quality_gate and dbt["success"]:
        gate = run_quality_gate(config, dirs)
        say(f"[{customers:,}] data-quality gate: {gate['outcome']} in {gate['seconds']}s")
        quality = quality_share(dbt["nodes"], gate)
    baseline = run_baseline(config, dirs)
    say(f"[{customers:,}] baseline: {_outcome(baseline)} in {baseline['seconds']}s")
    refresh = None
    if config.refresh_day and dbt["success"]:
        refresh = run_refresh_day(config, dirs, dbt)
        say(f"[{customers:,}] one-day refresh: {_outcome(refresh)} in {refresh['seconds']}s")
    return {
        "customers": customers,
        "work_dir": str(dirs.root),
        "commands": {
            "dbt": _shell_line(
                dbt_command(config, dirs), _dbt_env_shown(config, dirs), config.project_dir
            ),
            "baseline": _shell_line(baseline_command(config, dirs), {}, config.project_dir),
        },
        "generator": generator,
        "dbt": dbt,
        "baseline": baseline,
        "row_counts": compare_counts(dbt["counts"], baseline.get("counts", {})),
        "ratios": ratios(dbt, baseline, generator["total_rows"], within_floor_scope(config.select)),
        "quality": quality,
        "refresh": refresh,
    }


def within_floor_scope(select: Sequence[str]) -> bool:
    """Whether a selection builds what the staging floor does (the default one), so that
    dbt / baseline compares the same work."""
    return tuple(select) == tuple(DEFAULT_SELECT.split())


def ratios(
    dbt: Mapping[str, Any], baseline: Mapping[str, Any], rows: int, same_scope: bool = True
) -> dict[str, Any]:
    """dbt / baseline for wall time, execution time and peak RSS; rows per second.

    The three ratios are None when the selection builds more than the floor's staging work
    (`same_scope` False): a whole-project build over a staging-only floor is no ratio."""
    both = dbt["success"] and baseline["success"] and same_scope
    return {
        "same_scope": same_scope,
        "wall": _ratio(dbt["seconds"], baseline["seconds"]) if both else None,
        "execution": (
            _ratio(dbt.get("execution_seconds"), baseline.get("sql_seconds")) if both else None
        ),
        "peak_rss": _ratio(dbt["peak_rss_bytes"], baseline["peak_rss_bytes"]) if both else None,
        "dbt_rows_per_second": _per_second(rows, dbt["seconds"], dbt["success"]),
        "baseline_rows_per_second": _per_second(rows, baseline["seconds"], baseline["success"]),
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def _per_second(rows: int, seconds: float, success: bool) -> int | None:
    return round(rows / seconds) if success and seconds > 0 else None


def _outcome(result: Mapping[str, Any]) -> str:
    return "ok" if result["success"] else f"FAILED (exit {result['returncode']})"


def _settings(config: BenchConfig) -> dict[str, Any]:
    return {
        "customers": list(config.customers),
        "format": config.fmt,
        "seed": config.seed,
        "end_date": config.end_date.isoformat(),
        "vars": build_vars(config.end_date),
        "select": " ".join(config.select),
        "indirect_selection": "cautious",
        "threads": config.threads,
        "memory_limit": config.memory_limit,
        "quality_gate": config.quality_gate,
        "refresh_day": config.refresh_day,
        "baseline_sql": _relative(config.baseline_script, config.project_dir),
        "profiles": _relative(config.profiles_dir / "profiles.yml", config.project_dir)
        if config.profiles_dir
        else "profiles.yml",
        "work_dir": _relative(config.work_dir, config.project_dir),
    }


def _dbt_env_shown(config: BenchConfig, dirs: ScaleDirs) -> dict[str, str]:
    keys = ("SEGMENTS_RAW_DIR", "SEGMENTS_WAREHOUSE")
    env = dbt_env(config, dirs)
    shown = {key: env[key] for key in keys}
    shown["SEGMENTS_MEMORY_LIMIT"] = config.memory_limit
    shown["SEGMENTS_DUCKDB_THREADS"] = str(config.threads)
    return shown


def _shell_line(command: Sequence[str], env: Mapping[str, str], root: Path) -> str:
    """The command as a shell line, paths inside the repository written relative to it."""
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    line = (prefix + " " if prefix else "") + shlex.join(command)
    return line.replace(f"{root}/", "")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def machine_info() -> dict[str, Any]:
    """nproc, memory, CPU model and the versions that matter."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _meminfo_bytes("MemTotal"),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt_core": _version("dbt-core"),
        "dbt_duckdb": _version("dbt-duckdb"),
    }


def _meminfo_bytes(key: str) -> int | None:
    for line in _read_lines(Path("/proc/meminfo")):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None


def _cpu_model() -> str:
    for line in _read_lines(Path("/proc/cpuinfo")):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------- report


def write_outputs(config: BenchConfig, data: Mapping[str, Any]) -> None:
    """Write the JSON and the markdown report (keeping the report's hand-written preamble)."""
    config.json_path.parent.mkdir(parents=True, exist_ok=True)
    config.json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    config.report.parent.mkdir(parents=True, exist_ok=True)
    preamble = read_preamble(config.report)
    config.report.write_text(
        preamble + "\n" + REPORT_MARKER + "\n\n" + render_markdown(data), encoding="utf-8"
    )


def read_preamble(report: Path) -> str:
    """The hand-written part of an existing report (above the marker), else the default."""
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        if REPORT_MARKER in text:
            return text.split(REPORT_MARKER, 1)[0].rstrip("\n") + "\n"
    return DEFAULT_PREAMBLE


def render_markdown(data: Mapping[str, Any]) -> str:
    """The generated part of the report."""
    sections = [
        _render_header(data),
        _render_summary(data["scales"]),
        *(_render_scale(scale) for scale in data["scales"]),
        _render_notes(data["scales"], data["machine"], data["settings"]["memory_limit"]),
    ]
    return "\n".join(sections)


def _render_header(data: Mapping[str, Any]) -> str:
    machine, settings = data["machine"], data["settings"]
    lines = [
        f"## Run of {data['started_at']}",
        "",
        f"Finished {data.get('finished_at', '(unfinished)')}.",
        "",
        "| machine | |",
        "|---|---|",
        f"| nproc | {machine['nproc']} |",
        f"| memory | {_gib(machine['memory_bytes'])} |",
        f"| CPU | {machine['cpu_model']} |",
        f"| kernel | {machine['kernel']} |",
        f"| versions | Python {machine['python']}, duckdb {machine['duckdb']}, "
        f"dbt-core {machine['dbt_core']}, dbt-duckdb {machine['dbt_duckdb']} |",
        f"| settings | threads {settings['threads']}, memory_limit {settings['memory_limit']}, "
        f"format {settings['format']}, seed {settings['seed']}, end date "
        f"{settings['end_date']}, dbt profile {settings['profiles']} |",
        "",
        "Command:",
        "",
        "```bash",
        data["commands"]["bench"],
        "```",
        "",
    ]
    return "\n".join(lines)


def _render_summary(scales: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "## Summary",
        "",
        "| customers | raw rows | generator s | dbt build s | dbt peak RSS | dbt rows/s "
        "| baseline s | baseline peak RSS | dbt / baseline (wall) | (execution) | (peak RSS) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scale in scales:
        generator, dbt, baseline, ratio = (
            scale["generator"],
            scale["dbt"],
            scale["baseline"],
            scale["ratios"],
        )
        lines.append(
            f"| {scale['customers']:,} | {generator['total_rows']:,} | {generator['seconds']:.1f} "
            f"| {_seconds(dbt)} | {_gib(dbt['peak_rss_bytes'])} "
            f"| {_count(ratio['dbt_rows_per_second'])} | {_seconds(baseline)} "
            f"| {_gib(baseline['peak_rss_bytes'])} | {_times(ratio['wall'])} "
            f"| {_times(ratio['execution'])} | {_times(ratio['peak_rss'])} |"
        )
    return "\n".join([*lines, ""])


def _render_scale(scale: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            f"## {scale['customers']:,} customers",
            "",
            _render_measurements(scale),
            _render_generator(scale["generator"]),
            _render_counts(scale["row_counts"]),
            _render_slowest(scale["dbt"]),
            _render_layers(scale["dbt"]),
            _render_python_models(scale["dbt"]),
            _render_quality(scale.get("quality")),
            _render_refresh(scale.get("refresh"), scale["dbt"]),
            _render_commands(scale),
        ]
    )


def _render_measurements(scale: Mapping[str, Any]) -> str:
    dbt, baseline, ratio = scale["dbt"], scale["baseline"], scale["ratios"]
    rows = [
        ("outcome", _outcome(dbt), _outcome(baseline), ""),
        ("wall seconds", _seconds(dbt), _seconds(baseline), _times(ratio["wall"])),
        (
            "execution seconds (dbt elapsed_time; baseline SQL)",
            _float(dbt.get("execution_seconds")),
            _float(baseline.get("sql_seconds")),
            _times(ratio["execution"]),
        ),
        (
            "peak RSS (process)",
            _gib(dbt["peak_rss_bytes"]),
            _gib(baseline["peak_rss_bytes"]),
            _times(ratio["peak_rss"]),
        ),
        (
            "peak RSS (process tree, sampled)",
            _gib(dbt["tree_peak_rss_bytes"]),
            _gib(baseline["tree_peak_rss_bytes"]),
            "",
        ),
        (
            "raw rows / wall second",
            _count(ratio["dbt_rows_per_second"]),
            _count(ratio["baseline_rows_per_second"]),
            "",
        ),
        (
            "peak spill to disk (sampled)",
            _gib(dbt["spill_peak_bytes"]),
            _gib(baseline["spill_peak_bytes"]),
            "",
        ),
        ("database file", _gib(dbt["database_bytes"]), _gib(baseline["database_bytes"]), ""),
        (
            "load average before",
            _float(dbt["load_average_before"]),
            _float(baseline["load_average_before"]),
            "",
        ),
    ]
    lines = ["| | dbt build | baseline | dbt / baseline |", "|---|---:|---:|---:|"]
    lines += [
        f"| {label} | {left} | {right} | {ratio_text} |" for label, left, right, ratio_text in rows
    ]
    if not ratio.get("same_scope", True):
        lines += [
            "",
            "The selection builds more than the staging layer and its data-quality marts, which "
            "is all the baseline does, so dbt / baseline is not given (n/a): the baseline column "
            "is the staging floor alone.",
        ]
    return "\n".join([*lines, ""])


def _render_generator(generator: Mapping[str, Any]) -> str:
    steps = ", ".join(f"{step} {sec:.1f}" for step, sec in generator["step_seconds"].items())
    return "\n".join(
        [
            f"Generator: {generator['seconds']:.1f} s for {generator['total_rows']:,} raw rows "
            f"(load average before {generator['load_average_before']}). Step seconds: {steps}.",
            "",
        ]
    )


def _render_counts(counts: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [
        "| source | raw rows | staged (dbt) | staged (baseline) | equal |",
        "|---|---:|---:|---:|---|",
    ]
    for source, entry in counts.items():
        lines.append(
            f"| {source} | {_count(entry['raw'])} | {_count(entry['dbt_staged'])} "
            f"| {_count(entry['baseline_staged'])} | {MATCH_TEXT[entry['match']]} |"
        )
    return "\n".join([*lines, ""])


def _render_slowest(dbt: Mapping[str, Any]) -> str:
    models = [node for node in dbt["nodes"] if node["resource_type"] == "model"]
    model_seconds = sum(node["seconds"] for node in models) or 1.0
    lines = [
        f"Slowest {SLOWEST_MODELS} models (execution seconds; dbt runs two nodes at a time):",
        "",
        "| model | status | seconds | share of model time |",
        "|---|---|---:|---:|",
    ]
    for node in models[:SLOWEST_MODELS]:
        share = node["seconds"] / model_seconds
        lines.append(f"| {node['name']} | {node['status']} | {node['seconds']:.2f} | {share:.0%} |")
    totals = resource_totals(dbt["nodes"])
    summed = ", ".join(
        f"{int(entry['count'])} {kind} nodes {entry['seconds']:.1f} s"
        for kind, entry in sorted(totals.items())
    )
    source = dbt.get("timings_from", "run_results.json")
    return "\n".join([*lines, "", f"Summed node time ({source}): {summed or 'none'}.", ""])


def _render_layers(dbt: Mapping[str, Any]) -> str:
    layers = dbt.get("layers") or []
    if not layers:
        return ""
    lines = [
        "Models per layer (span = first model's start to last model's end; peak = process-tree",
        "RSS sampled in that span):",
        "",
        "| layer | models | summed model seconds | span seconds | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {entry['layer']} | {entry['models']} | {entry['model_seconds']:.1f} | "
        f"{_float(entry['span_seconds'])} | {_gib(entry['peak_rss_bytes'])} |"
        for entry in layers
    ]
    return "\n".join([*lines, ""])


def _render_refresh(refresh: Mapping[str, Any] | None, full: Mapping[str, Any]) -> str:
    if not refresh:
        return ""
    if not refresh["success"]:
        return f"One-day refresh: {_outcome(refresh)}: {refresh.get('error', '')}\n"
    delivered = ", ".join(
        f"{source} {rows:,}" for source, rows in sorted(refresh["delivery_rows"].items())
    )
    incremental = ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in refresh["incremental_models"].items()
    )
    slowest = ", ".join(
        f"{node['name']} {node['seconds']:.1f} s" for node in refresh["slowest_nodes"]
    )
    equal = "yes" if refresh["staged_rows_equal_full_build"] else "**NO**"
    parse = refresh.get("parse_seconds")
    lines = [
        "One-day refresh (the same files landed as daily deliveries; after an untimed build on",
        "all but the last day, the last day lands and the same `dbt build` runs; only the large",
        "sources' base models are incremental, everything downstream is rebuilt). The refresh",
        "reuses a parse made with its vars just before, as a scheduled job that passes no vars",
        "reuses yesterday's"
        + (
            f"; that full parse took {parse:.1f} s, which a job passing a new `--vars` every "
            "day pays on top"
            if parse
            else ""
        )
        + ":",
        "",
        "| | one-day refresh | full build | refresh / full |",
        "|---|---:|---:|---:|",
        f"| wall seconds | {refresh['seconds']:.1f} | {full['seconds']:.1f} "
        f"| {_times(refresh['ratio_to_full_build'])} |",
        "",
        f"Rows in the day's delivery: {delivered}. Incremental base models: {incremental}.",
        f"Slowest nodes of the refresh: {slowest}. Staged rows equal to the full build's: {equal}.",
        *_render_audit_publish(refresh),
    ]
    return "\n".join([*lines, ""])


def _render_audit_publish(refresh: Mapping[str, Any]) -> list[str]:
    """What the scheduled job adds after its build, when the refresh timed it."""
    step = refresh.get("audit_publish")
    if not step:
        return []
    return [
        "",
        "The scheduled job (`segwarehouse refresh`) then audits and publishes: the GX suites, the "
        "volume and privacy checks and the copy and swap of the serving file took "
        f"{step['seconds']:.1f} s ({step['outcome']}), so **the whole daily job took "
        f"{refresh['job_seconds']:.1f} s**.",
    ]


def _render_quality(quality: Mapping[str, Any] | None) -> str:
    if not quality:
        return ""
    gate = quality["gate"]
    share = quality["share"]
    lines = [
        "Data-quality share (dbt data and unit tests, summed node seconds, plus the GX gate",
        "`segwarehouse check`, wall seconds; over all node seconds plus the gate):",
        "",
        "| dbt tests s | GX gate s | GX outcome | all nodes s | validation share |",
        "|---:|---:|---|---:|---:|",
        f"| {quality['dbt_test_seconds']:.1f} | {gate['seconds']:.1f} | {gate['outcome']} "
        f"| {quality['node_seconds']:.1f} | {'n/a' if share is None else f'{share:.1%}'} |",
    ]
    lines += ["", *(f"- {line}" for line in gate["failures"])] if gate["failures"] else []
    return "\n".join([*lines, ""])


def _render_python_models(dbt: Mapping[str, Any]) -> str:
    models = [
        node
        for node in dbt["nodes"]
        if node["resource_type"] == "model" and node.get("language") == "python"
    ]
    if not models:
        return ""
    lines = [
        "dbt Python models (peak = process-tree RSS sampled while the model ran; dbt runs two",
        "nodes at a time, so it includes whatever ran beside it):",
        "",
        "| model | status | seconds | peak RSS while running |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {node['name']} | {node['status']} | {node['seconds']:.2f} | "
        f"{_gib(node.get('peak_rss_bytes_while_running'))} |"
        for node in models
    ]
    total = sum(node["seconds"] for node in models)
    return "\n".join([*lines, "", f"Python models together: {total:.1f} s summed.", ""])


def _render_commands(scale: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            "Commands (run from the repository root):",
            "",
            "```bash",
            scale["commands"]["dbt"],
            scale["commands"]["baseline"],
            "```",
            "",
        ]
    )


def _render_notes(
    scales: Sequence[Mapping[str, Any]], machine: Mapping[str, Any], memory_limit: str
) -> str:
    notes = list(_notes(scales, machine, memory_limit)) or ["Nothing unusual."]
    return "\n".join(["## Notes", "", *(f"- {note}" for note in notes), ""])


def _notes(
    scales: Sequence[Mapping[str, Any]], machine: Mapping[str, Any], memory_limit: str
) -> Iterator[str]:
    for scale in scales:
        label = f"{scale['customers']:,} customers"
        for side in ("dbt", "baseline"):
            result = scale[side]
            if not result["success"]:
                error = " ".join(str(result.get("error", "")).split())[:600]
                yield f"{label}: {side} FAILED (exit {result['returncode']}): {error}"
        dbt = scale["dbt"]
        if dbt["success"] and dbt.get("execution_seconds") is not None:
            overhead = dbt["seconds"] - dbt["execution_seconds"]
            yield (
                f"{label}: dbt start-up, parsing and compilation outside elapsed_time: "
                f"{overhead:.1f} s of {dbt['seconds']:.1f} s."
            )
        yield from _count_notes(label, scale["row_counts"])
        yield from _load_notes(label, scale, machine["nproc"])
        yield from _memory_notes(label, scale, memory_limit)
    yield (
        "Key conflicts with tied timestamps keep a different winner on each side (dbt breaks "
        "ties by md5 text, the baseline by hash()), so the counts agree while a few staged "
        "order rows can differ in content."
    )


def _load_notes(label: str, scale: Mapping[str, Any], nproc: int) -> Iterator[str]:
    busy = {
        side: scale[side]["load_average_before"]
        for side in ("generator", "dbt", "baseline")
        if scale[side]["load_average_before"] > nproc
    }
    if busy:
        loads = ", ".join(f"{side} {load:.1f}" for side, load in busy.items())
        yield (
            f"{label}: the machine was busy (load average above nproc = {nproc} before: "
            f"{loads}); these seconds and this ratio carry more noise than usual."
        )


def _memory_notes(label: str, scale: Mapping[str, Any], memory_limit: str) -> Iterator[str]:
    limit = _size_bytes(memory_limit)
    capped = [
        side
        for side in ("dbt", "baseline")
        if limit and scale[side]["peak_rss_bytes"] >= 0.9 * limit
    ]
    if capped:
        yield (
            f"{label}: {' and '.join(capped)} ran at the memory_limit ({memory_limit}): peak "
            "RSS shows the cap, not the need; the spill to disk shows how far over it went."
        )


def _size_bytes(text: str) -> int | None:
    """'8GB' / '8GiB' / '512MB' as bytes (DuckDB reads GB as 1000^3, GiB as 1024^3)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]i?B)\s*", text, flags=re.IGNORECASE)
    if not match:
        return None
    unit = match[2].upper()
    base = 1024 if "I" in unit else 1000
    return int(float(match[1]) * base ** ("KMGT".index(unit[0]) + 1))


def _count_notes(label: str, counts: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    missing = [
        side
        for side in ("dbt", "baseline")
        if all(entry[f"{side}_staged"] is None for entry in counts.values())
    ]
    if missing:
        yield f"{label}: no staged row counts from {' and '.join(missing)} to compare."
        return
    for source, entry in counts.items():
        if entry["match"] is False:
            must = " (must match)" if source in MUST_MATCH else ""
            yield (
                f"{label}: staged {source} differ{must}: dbt {_count(entry['dbt_staged'])}, "
                f"baseline {_count(entry['baseline_staged'])}."
            )


def _seconds(result: Mapping[str, Any]) -> str:
    text = f"{result['seconds']:.1f}"
    return text if result["success"] else f"{text} (failed)"


def _gib(value: int | None) -> str:
    if value is None:
        return "n/a"
    if value < 1024**3:
        return f"{value / 1024**2:.0f} MiB"
    return f"{value / 1024**3:.2f} GiB"


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _float(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


# --------------------------------------------------------------------------- baseline child


def baseline_main(argv: Sequence[str] | None = None) -> int:
    """Run the baseline script once (the child process the harness measures)."""
    args = _baseline_parser().parse_args(argv)
    config = {
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "temp_directory": str(args.temp_dir),
        "preserve_insertion_order": False,
    }
    script = args.script.read_text(encoding="utf-8")
    with duckdb.connect(str(args.database), config=config) as con:
        started = time.perf_counter()
        _define_inputs(con, args)
        con.execute(script).fetchall()
        sql_seconds = time.perf_counter() - started
        counts = connection_counts(con)
    result = {"sql_seconds": round(sql_seconds, 3), "counts": counts}
    args.result.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _baseline_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segwarehouse.bench",
        description="Run benchmarks/staging_baseline.sql once (used by `segwarehouse bench`).",
    )
    for name in ("--script", "--database", "--raw-dir", "--seeds-dir", "--temp-dir", "--result"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--format", choices=("csv", "parquet"), required=True)
    parser.add_argument("--as-of-date", type=date.fromisoformat, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    return parser


def _define_inputs(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    """The variables and the landing() macro the baseline script expects.

    landing(name) yields (_row, raw): a row number that is the same on every read and the raw
    row as a struct of text. Parquet has file_row_number; a CSV file is read once into a
    numbered temp table (this is part of the timed work).
    """
    loaded_at = build_vars(args.as_of_date)["segments__loaded_at"]
    values = {
        "raw_dir": str(args.raw_dir),
        "seeds_dir": str(args.seeds_dir),
        "as_of_date": args.as_of_date.isoformat(),
        "loaded_at": loaded_at,
    }
    for name, value in values.items():
        con.execute(f"set variable {name} = ?", [value])
    if args.format == "parquet":
        con.execute(PARQUET_LANDING)
        return
    for source in (*REQUIRED_SOURCES, *OPTIONAL_SOURCES):
        path = sql_literal(str(args.raw_dir / f"{source}.csv"))
        con.execute(
            f"create or replace temp table csv_{source} as select row_number() over () as _row, "
            f"struct_pack(*columns(*)) as raw from read_csv({path}, {CSV_OPTIONS})"
        )
    con.execute(
        "create or replace macro landing(name) as table "
        "select _row, raw from query_table('csv_' || name)"
    )


if __name__ == "__main__":
    raise SystemExit(baseline_main())


# Public names of the renderers, for benchmarks/measure_dbt.py.
gib = _gib
render_slowest = _render_slowest
render_layers = _render_layers
render_python_models = _render_python_models
