"""The test graph carries no data test that cannot fail (src/segwarehouse/graph_audit.py)."""

from typing import Any

from conftest import Workspace
from segwarehouse import graph_audit


def model(columns: dict[str, list[str]], *, enforced: bool = True, language: str = "sql") -> dict:
    """A manifest model node: column name -> its constraint types."""
    return {
        "resource_type": "model",
        "language": language,
        "tags": ["daily"],
        "config": {"contract": {"enforced": enforced}},
        "columns": {
            name: {"constraints": [{"type": kind} for kind in kinds]}
            for name, kinds in columns.items()
        },
    }


def generic_test(name: str, column: str | None = None, **kwargs: Any) -> dict:
    """A manifest generic-test node on model.p.m."""
    return {
        "resource_type": "test",
        "attached_node": "model.p.m",
        "column_name": column,
        "depends_on": {"nodes": ["model.p.m"]},
        "test_metadata": {"name": name, "kwargs": {"model": "{{ ref('m') }}", **kwargs}},
    }


def manifest(model_node: dict, **tests: dict) -> dict:
    return {"nodes": {"model.p.m": model_node, **{f"test.p.{k}": v for k, v in tests.items()}}}


def rules(found: list[graph_audit.Redundant]) -> list[tuple[str, str]]:
    return [(r.test, r.rule) for r in found]


def test_not_null_under_an_enforced_contract_is_redundant() -> None:
    nodes = manifest(
        model({"id": ["not_null"], "name": []}),
        id_nn=generic_test("not_null", "id", column_name="id"),
        name_nn=generic_test("not_null", "name", column_name="name"),
    )
    assert rules(graph_audit.redundant_tests(nodes)) == [("test.p.id_nn", "contract_not_null")]


def test_a_not_null_columns_list_naming_a_contract_column_is_redundant() -> None:
    nodes = manifest(
        model({"id": ["not_null"], "name": [], "day": []}),
        a_list=generic_test("not_null_columns", columns=["name", "ID"]),
        b_list=generic_test("not_null_columns", columns=["name", "day"]),
    )
    assert rules(graph_audit.redundant_tests(nodes)) == [("test.p.a_list", "contract_not_null")]


def test_an_unenforced_or_python_contract_does_not_make_not_null_redundant() -> None:
    for node in (
        model({"id": ["not_null"]}, enforced=False),
        model({"id": ["not_null"]}, language="python"),
    ):
        assert (
            graph_audit.redundant_tests(manifest(node, id_nn=generic_test("not_null", "id"))) == []
        )


def test_a_combination_with_a_unique_column_and_an_exact_repeat_are_redundant() -> None:
    nodes = manifest(
        model({"id": [], "day": []}, enforced=False),
        a_unique=generic_test("unique", "id", column_name="id"),
        b_combo=generic_test("unique_combination_of_columns", combination_of_columns=["day", "ID"]),
        c_range=generic_test("accepted_range", "day", column_name="day", min_value=0),
        d_range=generic_test("accepted_range", "day", column_name="day", min_value=0),
        e_range=generic_test("accepted_range", "day", column_name="day", min_value=1),
    )
    assert rules(graph_audit.redundant_tests(nodes)) == [
        ("test.p.b_combo", "implied_combination"),
        ("test.p.d_range", "duplicate"),
    ]


def test_a_second_row_checks_test_with_the_same_config_and_a_repeated_check() -> None:
    warn = {"config": {"severity": "warn"}}
    nodes = manifest(
        model({"day": []}, enforced=False),
        a_checks=generic_test("row_checks", checks=["day > 0", {"column": "day", "min_value": 0}])
        | {"name": "row_checks_m_1"},
        b_checks=generic_test("row_checks", checks=[{"min_value": 0, "column": "day"}])
        | {"name": "row_checks_m_2"},
        c_warn=generic_test("row_checks", checks=["day < 9"]) | {"name": "row_checks_m_3"} | warn,
        d_named=generic_test("row_checks", checks=["day < 8"]) | {"name": "day_below_eight"},
    )
    assert rules(graph_audit.redundant_tests(nodes)) == [
        ("test.p.b_checks", "duplicate"),
        ("test.p.b_checks", "split_row_checks"),
    ]


def test_node_counts_follow_the_daily_tag() -> None:
    untagged = model({"id": []}) | {"tags": []}
    nodes = manifest(model({"id": []}), a=generic_test("unique", "id"))
    nodes["nodes"]["model.p.other"] = untagged
    counts = graph_audit.node_counts(nodes)
    assert (counts["nodes"], counts["test"], counts["daily_nodes"], counts["daily_tests"]) == (
        3,
        1,
        2,
        1,
    )


def test_the_projects_test_graph_has_no_redundant_test(workspace: Workspace) -> None:
    """`dbt parse` (no warehouse) and the rules over the project's manifest: a not_null test
    on a contract-enforced column, or any other redundant test, fails here with its name."""
    parsed = workspace.dbt("parse")
    assert parsed.returncode == 0, parsed.output
    found = graph_audit.redundant_tests(
        graph_audit.load_manifest(workspace.scratch / "target" / "manifest.json")
    )
    assert found == [], "\n".join(f"{r.test}: {r.reason}" for r in found)
