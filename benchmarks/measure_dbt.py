"""Measure one dbt invocation against an existing benchmark work dir, the way `segwarehouse
bench` measures a build: wall time, peak RSS, and per-model times and peak RSS from the
sampled timeline, per layer and per Python model.

For re-measuring part of a build (a layer after a fix, or the rest of a build that was
stopped) without regenerating the data. Example, the ML models on the 1M warehouse:

    .venv/bin/python benchmarks/measure_dbt.py --work-dir data/bench/c1000000 \\
        --name ml --report data/bench/c1000000/ml.md -- \\
        run --select marts.ml --vars '{"as_of_date": "2026-06-30"}'
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from segwarehouse.bench.config import ScaleDirs
from segwarehouse.bench.report import gib, render_layers, render_python_models, render_slowest
from segwarehouse.bench.steps import measure_dbt
from segwarehouse.dbt_runner import DbtInvocation

PROJECT_DIR = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run dbt with the arguments after `--`, measured; write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="a bench scale folder")
    parser.add_argument("--name", required=True, help="label of this measurement")
    parser.add_argument("--report", type=Path, required=True, help="markdown output")
    parser.add_argument("--memory-limit", default=os.environ.get("SEGMENTS_MEMORY_LIMIT", "8GB"))
    parser.add_argument("--threads", default=os.environ.get("SEGMENTS_DUCKDB_THREADS", "2"))
    parser.add_argument(
        "--cold-parse",
        action="store_true",
        help="measure a full project parse too (default: `dbt parse` into the target folder "
        "first, untimed, so the measured run partially parses like a scheduled job's)",
    )
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER, help="-- then dbt's arguments")
    args = parser.parse_args(argv)
    dbt_args = [arg for arg in args.dbt_args if arg != "--"]
    dirs = ScaleDirs(args.work_dir.resolve())
    target = dirs.root / f"target-{args.name}"
    invocation = DbtInvocation(
        PROJECT_DIR,
        raw_dir=dirs.raw,
        warehouse=dirs.warehouse,
        target_path=target,
        log_path=dirs.logs,
        extra_env={
            "SEGMENTS_MEMORY_LIMIT": args.memory_limit,
            "SEGMENTS_DUCKDB_THREADS": str(args.threads),
        },
    )
    command, env = invocation.command(*dbt_args), invocation.environment()
    log = dirs.root / f"dbt_{args.name}.log"
    if not args.cold_parse:
        warm_up_parse(command, env)
    result = {
        "command": command,
        **measure_dbt(command, env, PROJECT_DIR, log, target, spill_dirs=(dirs.warehouse_spill,)),
    }
    args.report.with_suffix(".json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lines = [
        f"## {args.name}",
        "",
        f"`{' '.join(dbt_args)}`: {'ok' if result['success'] else 'FAILED'} in "
        f"{result['seconds']:.1f} s wall, peak RSS {gib(result['peak_rss_bytes'])} "
        f"(process tree {gib(result['tree_peak_rss_bytes'])}), load average before "
        f"{result['load_average_before']}.",
        "",
        render_slowest(result),
        render_layers(result),
        render_python_models(result),
    ]
    args.report.write_text("\n".join(lines), encoding="utf-8")
    print(args.report.read_text(encoding="utf-8"))
    return 0 if result["success"] else 1


def warm_up_parse(command: list[str], env: dict[str, str]) -> None:
    """`dbt parse` with the measured command's target and vars, so its manifest is reused."""
    dbt_args = command[1:]
    vars_args: list[str] = []
    if "--vars" in dbt_args:
        position = dbt_args.index("--vars")
        vars_args = dbt_args[position : position + 2]
    target = dbt_args[dbt_args.index("--target-path") : dbt_args.index("--target-path") + 2]
    logs = dbt_args[dbt_args.index("--log-path") : dbt_args.index("--log-path") + 2]
    subprocess.run(
        [command[0], "parse", *vars_args, *target, *logs],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
