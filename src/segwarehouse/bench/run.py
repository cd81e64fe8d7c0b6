"""Orchestration: every scale in turn (generator, dbt build, optional quality gate, baseline,
optional one-day refresh), their ratios, the run's settings and the machine it ran on."""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from segwarehouse.bench.config import DEFAULT_SELECT, BenchConfig, Progress, ScaleDirs
from segwarehouse.bench.report import write_outputs
from segwarehouse.bench.results import compare_counts, outcome, ratio
from segwarehouse.bench.steps import (
    baseline_command,
    build_vars,
    dbt_command,
    dbt_env,
    quality_share,
    run_baseline,
    run_dbt_build,
    run_generator,
    run_quality_gate,
    run_refresh_day,
)


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
    say(f"[{customers:,}] dbt build: {outcome(dbt)} in {dbt['seconds']}s ({dbt['log']})")
    quality = None
    if config.quality_gate and dbt["success"]:
        gate = run_quality_gate(config, dirs)
        say(f"[{customers:,}] data-quality gate: {gate['outcome']} in {gate['seconds']}s")
        quality = quality_share(dbt["nodes"], gate)
    baseline = run_baseline(config, dirs)
    say(f"[{customers:,}] baseline: {outcome(baseline)} in {baseline['seconds']}s")
    refresh = None
    if config.refresh_day and dbt["success"]:
        refresh = run_refresh_day(config, dirs, dbt)
        say(f"[{customers:,}] one-day refresh: {outcome(refresh)} in {refresh['seconds']}s")
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
        "wall": ratio(dbt["seconds"], baseline["seconds"]) if both else None,
        "execution": (
            ratio(dbt.get("execution_seconds"), baseline.get("sql_seconds")) if both else None
        ),
        "peak_rss": ratio(dbt["peak_rss_bytes"], baseline["peak_rss_bytes"]) if both else None,
        "dbt_rows_per_second": _per_second(rows, dbt["seconds"], dbt["success"]),
        "baseline_rows_per_second": _per_second(rows, baseline["seconds"], baseline["success"]),
    }


def _per_second(rows: int, seconds: float, success: bool) -> int | None:
    return round(rows / seconds) if success and seconds > 0 else None


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
