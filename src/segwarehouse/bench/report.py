"""Rendering a benchmark run: the JSON file and the generated markdown below the report's
hand-written preamble."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from segwarehouse.bench.config import MUST_MATCH, SLOWEST_MODELS, BenchConfig
from segwarehouse.bench.preamble import REPORT_MARKER, read_preamble
from segwarehouse.bench.results import outcome, resource_totals

MATCH_TEXT = {True: "yes", False: "**no**", None: "n/a"}


def write_outputs(config: BenchConfig, data: Mapping[str, Any]) -> None:
    """Write the JSON and the markdown report (keeping the report's hand-written preamble)."""
    config.json_path.parent.mkdir(parents=True, exist_ok=True)
    config.json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    config.report.parent.mkdir(parents=True, exist_ok=True)
    preamble = read_preamble(config.report)
    config.report.write_text(
        preamble + "\n" + REPORT_MARKER + "\n\n" + render_markdown(data), encoding="utf-8"
    )


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
        f"| memory | {gib(machine['memory_bytes'])} |",
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
            f"| {_seconds(dbt)} | {gib(dbt['peak_rss_bytes'])} "
            f"| {_count(ratio['dbt_rows_per_second'])} | {_seconds(baseline)} "
            f"| {gib(baseline['peak_rss_bytes'])} | {_times(ratio['wall'])} "
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
            render_slowest(scale["dbt"]),
            render_layers(scale["dbt"]),
            render_python_models(scale["dbt"]),
            _render_quality(scale.get("quality")),
            _render_refresh(scale.get("refresh"), scale["dbt"]),
            _render_commands(scale),
        ]
    )


def _render_measurements(scale: Mapping[str, Any]) -> str:
    dbt, baseline, ratio = scale["dbt"], scale["baseline"], scale["ratios"]
    rows = [
        ("outcome", outcome(dbt), outcome(baseline), ""),
        ("wall seconds", _seconds(dbt), _seconds(baseline), _times(ratio["wall"])),
        (
            "execution seconds (dbt elapsed_time; baseline SQL)",
            _float(dbt.get("execution_seconds")),
            _float(baseline.get("sql_seconds")),
            _times(ratio["execution"]),
        ),
        (
            "peak RSS (process)",
            gib(dbt["peak_rss_bytes"]),
            gib(baseline["peak_rss_bytes"]),
            _times(ratio["peak_rss"]),
        ),
        (
            "peak RSS (process tree, sampled)",
            gib(dbt["tree_peak_rss_bytes"]),
            gib(baseline["tree_peak_rss_bytes"]),
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
            gib(dbt["spill_peak_bytes"]),
            gib(baseline["spill_peak_bytes"]),
            "",
        ),
        ("database file", gib(dbt["database_bytes"]), gib(baseline["database_bytes"]), ""),
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


def render_slowest(dbt: Mapping[str, Any]) -> str:
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


def render_layers(dbt: Mapping[str, Any]) -> str:
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
        f"{_float(entry['span_seconds'])} | {gib(entry['peak_rss_bytes'])} |"
        for entry in layers
    ]
    return "\n".join([*lines, ""])


def _render_refresh(refresh: Mapping[str, Any] | None, full: Mapping[str, Any]) -> str:
    if not refresh:
        return ""
    if not refresh["success"]:
        return f"One-day refresh: {outcome(refresh)}: {refresh.get('error', '')}\n"
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
        *render_audit_publish(refresh),
    ]
    return "\n".join([*lines, ""])


def render_audit_publish(refresh: Mapping[str, Any]) -> list[str]:
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


def render_python_models(dbt: Mapping[str, Any]) -> str:
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
        f"{gib(node.get('peak_rss_bytes_while_running'))} |"
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


def gib(value: int | None) -> str:
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
