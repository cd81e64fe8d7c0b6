"""The measured steps of one scale: the generator, `dbt build`, the one-day refresh, the
data-quality gate, audit-and-publish, and the hand-written baseline. dbt command lines and
environments come from `segwarehouse.dbt_runner.DbtInvocation` (`dbt_invocation`)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from segwarehouse.bench.config import (
    AUDIT_OUTCOMES,
    QUALITY_OUTCOMES,
    SEEDS_DIR,
    SLOWEST_MODELS,
    TEST_NODE_TYPES,
    BenchConfig,
    ScaleDirs,
)
from segwarehouse.bench.measure import measure
from segwarehouse.bench.results import (
    annotate_nodes,
    clean_lines,
    failure_summary,
    file_size,
    layer_totals,
    ratio,
    read_log,
    read_run_results,
    reconciliation_counts,
    resource_totals,
    tail,
)
from segwarehouse.dbt_runner import SCHEDULED_BUILD, DbtInvocation
from segwarehouse.landing import INCREMENTAL_BASE_MODELS, land_daily
from segwarehouse.settings import (
    SERVING_ENV,
    WAREHOUSE_ENV,
    Settings,
    pseudonym_key_env,
)


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
    """The `dbt build` invocation of one scale (as of the generator's last day by default),
    as the scheduled refresh runs it (no unit tests)."""
    invocation = dbt_invocation(config, dirs, as_of_date)
    return invocation.command(
        *SCHEDULED_BUILD, *selection_args(config.select), "--indirect-selection", "cautious"
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
    result["database_bytes"] = file_size(dirs.warehouse)
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
            "ratio_to_full_build": ratio(refresh["seconds"], full["seconds"]),
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
        "serving_bytes": file_size(dirs.serving),
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
        "error": f"{step} failed: {tail(log, 20)}",
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
        "failures": [line.strip() for line in clean_lines(log_path) if "FAIL " in line][:10],
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
        result["error"] = tail(log_path, 20)
    result["database_bytes"] = file_size(dirs.baseline_db)
    result["log"] = str(log_path)
    return result
