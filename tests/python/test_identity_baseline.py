"""The hand-written identity floor (benchmarks/identity_baseline.sql) against the dbt tables it
stands in for: equal on every column of a full build, and its check really fails when the
result differs (a smaller component cap; the guards dropped)."""

from __future__ import annotations

from pathlib import Path

from conftest import PROJECT_DIR, BaselineRun, Workspace, run_floor

RUNNER = PROJECT_DIR / "benchmarks" / "identity_baseline.py"
SCRIPT = PROJECT_DIR / "benchmarks" / "identity_baseline.sql"
TABLES = ("int_identity_resolved_nodes", "int_identity_record_keys")


def run_baseline(built: Workspace, tmp_path: Path, *extra: str) -> BaselineRun:
    """This floor's runner in a child process against the built warehouse."""
    return run_floor(RUNNER, built, tmp_path, *extra)


def test_baseline_equals_the_dbt_identity_tables(built: Workspace, tmp_path: Path) -> None:
    run = run_baseline(built, tmp_path)

    assert run.returncode == 0, run.output
    assert run.result["equal"] is True
    assert run.result["max_component_size"] == 50
    assert set(run.result["step_seconds"]) == {"graph_sql", "components", "keys_sql"}
    for table in TABLES:
        (dbt_rows,) = built.query(f"select count(*) from intermediate.{table}")[0]
        assert dbt_rows > 1000
        compared = run.result["tables"][table]
        assert compared["rows"] == {"baseline": dbt_rows, "dbt": dbt_rows}
        assert compared["only_in_dbt"] == compared["only_in_baseline"] == 0
        assert compared["column_mismatches"] == {"missing": [], "extra": []}


def test_a_smaller_component_cap_is_reported_as_different(built: Workspace, tmp_path: Path) -> None:
    (larger,) = built.query(
        "select count(*) from intermediate.int_identity_resolved_nodes where component_size > 2"
    )[0]
    assert larger > 0

    run = run_baseline(built, tmp_path, "--max-component-size", "2")

    assert run.returncode == 1, run.output
    assert run.result["equal"] is False
    nodes = run.result["tables"]["int_identity_resolved_nodes"]
    # The same nodes, but every node of a component over the cap gets other values.
    assert nodes["rows"]["baseline"] == nodes["rows"]["dbt"]
    assert nodes["only_in_dbt"] == nodes["only_in_baseline"] >= larger
    assert run.result["tables"]["int_identity_record_keys"]["only_in_dbt"] > 0


def test_dropping_the_guards_is_reported_as_different(built: Workspace, tmp_path: Path) -> None:
    (guarded,) = built.query(
        "select count(*) from intermediate.int_identity_nodes where guard_reason is not null"
    )[0]
    assert guarded > 0
    # Both guards go: a junk identifier is usually shared too, so either alone still holds.
    script_text = SCRIPT.read_text(encoding="utf-8")
    for guard, reason in (
        ("exact_junk_reason is not null or matches_junk_pattern", "junk_identifier"),
        ("linked_customer_ids > max_linked_customer_ids", "too_many_linked_customer_ids"),
    ):
        target = f"when {guard} then '{reason}'"
        assert script_text.count(target) == 1
        script_text = script_text.replace(target, f"when false then '{reason}'")
    script = tmp_path / "no_guards.sql"
    script.write_text(script_text, encoding="utf-8")

    run = run_baseline(built, tmp_path, "--script", str(script))

    assert run.returncode == 1, run.output
    # The guarded identifiers now link: they become resolved nodes and merge customers.
    nodes = run.result["tables"]["int_identity_resolved_nodes"]
    assert nodes["rows"]["baseline"] == nodes["rows"]["dbt"] + guarded
    assert nodes["only_in_baseline"] > nodes["only_in_dbt"] > 0
    assert run.result["tables"]["int_identity_record_keys"]["only_in_baseline"] > 0
