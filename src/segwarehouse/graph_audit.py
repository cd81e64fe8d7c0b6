"""Audit dbt's test graph from target/manifest.json (written by `dbt parse`, no warehouse):
node counts, and data tests that cannot fail because something else already asserts the
same rows. benchmarks/lean_tests.py prints the audit; tests/python/test_graph_audit.py keeps
the redundancies from coming back.

Redundant, by rule:
- `contract_not_null`: a `not_null` test (or a `not_null_columns` list) on a column that an
  enforced contract of a SQL model declares `not_null`. DuckDB enforces the constraint when
  the model's rows are inserted, so a null fails the build before the test runs. (Python
  models cannot enforce a contract.)
- `implied_combination`: a `unique_combination_of_columns` test whose columns include one
  that has its own `unique` test on the same model: unique(a) implies unique(a, b).
- `duplicate`: two generic tests of the same name, node, column and arguments.
- `split_row_checks`: a second `row_checks` test on a node with the same config as the first
  (and no name of its own): its checks belong in the first one's list, one scan and one dbt
  node. A check listed twice on a node is a `duplicate` too.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Node = Mapping[str, Any]


@dataclass(frozen=True)
class Redundant:
    """One data test that buys nothing, and the rule that says so."""

    test: str
    rule: str
    reason: str


def load_manifest(path: Path) -> dict[str, Any]:
    """The manifest dbt wrote, with a clear error when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; run `dbt parse` first")
    return json.loads(path.read_text())


def _tests(manifest: Node) -> Iterable[tuple[str, Node]]:
    return ((key, node) for key, node in manifest["nodes"].items() if key.startswith("test."))


def _generic(node: Node) -> tuple[str, dict[str, Any]]:
    metadata = node.get("test_metadata") or {}
    kwargs = {k: v for k, v in (metadata.get("kwargs") or {}).items() if k != "model"}
    return metadata.get("name") or "", kwargs


def enforced_not_null(manifest: Node) -> dict[str, set[str]]:
    """Per SQL model with an enforced contract: the columns it declares not_null."""
    enforced: dict[str, set[str]] = {}
    for key, node in manifest["nodes"].items():
        contract = (node.get("config") or {}).get("contract") or {}
        if not key.startswith("model.") or not contract.get("enforced"):
            continue
        if node.get("language") != "sql":
            continue
        enforced[key] = {
            name.lower()
            for name, column in node.get("columns", {}).items()
            if any(c.get("type") == "not_null" for c in column.get("constraints", []))
        }
    return enforced


def contract_not_null(manifest: Node) -> list[Redundant]:
    """not_null tests (one column, or a model's `not_null_columns` list) on columns an
    enforced contract already declares not_null."""
    enforced = enforced_not_null(manifest)
    found = []
    for key, node in _tests(manifest):
        model = node.get("attached_node") or ""
        covered = sorted(_not_null_columns(node) & enforced.get(model, set()))
        if covered:
            reason = f"{model}.{', '.join(covered)}: `not null` in its enforced contract"
            found.append(Redundant(key, "contract_not_null", reason))
    return found


def _not_null_columns(node: Node) -> set[str]:
    """The columns a not_null or not_null_columns test asserts."""
    name, kwargs = _generic(node)
    if name == "not_null":
        return {(node.get("column_name") or "").lower()}
    if name == "not_null_columns":
        return {column.lower() for column in kwargs.get("columns") or []}
    return set()


def implied_combination(manifest: Node) -> list[Redundant]:
    """Combination-uniqueness tests implied by a unique test on one of their columns."""
    unique: dict[str, set[str]] = defaultdict(set)
    for _, node in _tests(manifest):
        if _generic(node)[0] == "unique" and node.get("column_name"):
            unique[node.get("attached_node") or ""].add(node["column_name"].lower())
    found = []
    for key, node in _tests(manifest):
        name, kwargs = _generic(node)
        if name != "unique_combination_of_columns":
            continue
        model = node.get("attached_node") or ""
        columns = {c.lower() for c in kwargs.get("combination_of_columns") or []}
        covered = sorted(columns & unique[model])
        if covered:
            reason = f"{model}: unique({covered[0]}) already implies it"
            found.append(Redundant(key, "implied_combination", reason))
    return found


def duplicates(manifest: Node) -> list[Redundant]:
    """Generic tests asserting exactly what an earlier one asserts (all but the first)."""
    seen: dict[tuple[str, str, str, str], str] = {}
    found = []
    for key, node in sorted(_tests(manifest)):
        name, kwargs = _generic(node)
        if not name:
            continue  # a singular test is its own SQL
        signature = (
            name,
            node.get("attached_node") or "",
            (node.get("column_name") or "").lower(),
            json.dumps(kwargs, sort_keys=True, default=str),
        )
        if signature in seen:
            found.append(Redundant(key, "duplicate", f"asserts what {seen[signature]} does"))
        else:
            seen[signature] = key
    return found


# The test configs that make a second row_checks test on a node a test of its own.
_SEPARATING_CONFIG = ("severity", "where", "warn_if", "error_if", "fail_calc", "store_failures")


def split_row_checks(manifest: Node) -> list[Redundant]:
    """row_checks tests that could be merged into an earlier one on the same node, and checks
    a node's row_checks list more than once."""
    first: dict[str, str] = {}
    listed: dict[tuple[str, str], str] = {}
    found = []
    for key, node in sorted(_tests(manifest)):
        name, kwargs = _generic(node)
        if name != "row_checks":
            continue
        model = node.get("attached_node") or ""
        for check in kwargs.get("checks") or []:
            signature = (model, json.dumps(check, sort_keys=True, default=str))
            if signature in listed:
                reason = f"lists {signature[1]}, which {listed[signature]} checks already"
                found.append(Redundant(key, "duplicate", reason))
            listed.setdefault(signature, key)
        if not (node.get("name") or "row_checks_").startswith("row_checks_"):
            continue  # named on purpose: referred to by its name
        config = node.get("config") or {}
        group = json.dumps([model, *(config.get(k) for k in _SEPARATING_CONFIG)], default=str)
        if group in first:
            reason = f"same node and config as {first[group]}: add its checks to that list"
            found.append(Redundant(key, "split_row_checks", reason))
        first.setdefault(group, key)
    return found


def redundant_tests(manifest: Node) -> list[Redundant]:
    """Every data test the rules above call redundant."""
    return (
        contract_not_null(manifest)
        + implied_combination(manifest)
        + duplicates(manifest)
        + split_row_checks(manifest)
    )


def node_counts(manifest: Node, tag: str = "daily") -> dict[str, int]:
    """Nodes by resource type, and the ones a `tag:<tag>` selection builds: the tagged
    models and seeds, and tests with a tagged parent (dbt's eager indirect selection)."""
    counts: Counter[str] = Counter(n["resource_type"] for n in manifest["nodes"].values())
    tagged = {
        key
        for key, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot") and tag in node.get("tags", [])
    }
    tagged_tests = [
        key
        for key, node in _tests(manifest)
        if set(node.get("depends_on", {}).get("nodes", [])) & tagged
    ]
    return {
        "nodes": sum(counts.values()),
        **dict(sorted(counts.items())),
        "unit_tests": len(manifest.get("unit_tests", {})),
        f"{tag}_nodes": len(tagged) + len(tagged_tests),
        f"{tag}_tests": len(tagged_tests),
    }


def tests_by_type(manifest: Node) -> dict[str, int]:
    """Data tests per generic test name (`singular` for SQL files in tests/dbt)."""
    counts = Counter(_generic(node)[0] or "singular" for _, node in _tests(manifest))
    return dict(counts.most_common())
