"""Reading what a measured run left behind: run_results.json, dbt's log (per-node status and
times when run_results is missing), per-node peak RSS from the sampled timeline, layer and
resource totals, and the row counts of both sides' audit.source_reconciliation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from segwarehouse.bench.config import DISPOSITIONS

ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
# "12 of 109 OK created sql table model staging.base_web__events ..... [OK in 309.41s]"
NODE_LINE = re.compile(
    r" \d+ of \d+ (?P<status>OK|PASS|ERROR|FAIL|WARN) (?P<what>.+?) \.*\s*"
    r"\[[^\]]*?in (?P<seconds>[\d.]+)s\]"
)
LOG_STATUSES = {"OK": "success", "PASS": "pass", "ERROR": "error", "FAIL": "fail", "WARN": "warn"}
# "Not implemented Error: ...", "Database Error in model ...", "Out of Memory Error: ..."
ERROR_LINE = re.compile(r"^[A-Z][\w ]*?Error\b")
LAYER_ORDER = {"staging": 0, "intermediate": 1, "marts": 2}


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
    for line in clean_lines(path):
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


def clean_lines(path: Path) -> list[str]:
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
    for line in clean_lines(log_path):
        text = line.strip()
        if ERROR_LINE.match(text):
            messages[text] = messages.get(text, 0) + 1
    if not messages:
        return tail(log_path, 30)
    summary = "; ".join(f"{count} x {text}" for text, count in messages.items())
    if failed_nodes:
        summary += f" (first failed node: {failed_nodes[0]['unique_id']})"
    return summary


def tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return f"(no log at {path})"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def file_size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def outcome(result: Mapping[str, Any]) -> str:
    return "ok" if result["success"] else f"FAILED (exit {result['returncode']})"
