"""The `row_checks` generic test (macros/tests/row_checks.sql): one dbt test per model for its
row-level conditions. Compiled by dbt once, then run on small frames where every kind of check
passes or fails on rows chosen for it (nulls, bounds, `where`, quotes)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from conftest import Workspace, make_workspace

CHECKS = [
    "b is not null",
    {"expression": "c < 10", "where": "a > 0 or a is null"},
    {"column": "a", "min_value": 0},
    {"column": "c", "max_value": 7, "inclusive": False},
    {"column": "c", "min_value": 5, "max_value": 100},
    "coalesce(label, '') != 'it''s'",
    {"column": "b", "values": [1, 2, 3], "quote": False},
    {"column": "label", "values": ["x", "its", "it's"]},
]
LABELS = [
    "b is not null",
    "c < 10 (where a > 0 or a is null)",
    "a >= 0",
    "c < 7",
    "c >= 5 and c <= 100",
    "coalesce(label, '') != 'it''s'",
    "b in (1, 2, 3)",
    "label in ('x', 'its', 'it''s')",
]


@pytest.fixture(scope="module")
def workspace_module(tmp_path_factory: pytest.TempPathFactory, dbt_project: object) -> Workspace:
    """An empty workspace: compiling needs the project, not a build."""
    return make_workspace(tmp_path_factory.mktemp("row_checks"))


@pytest.fixture(scope="module")
def compiled(workspace_module: Workspace) -> str:
    """The test's SQL as dbt compiles it, over a relation named checked_rows."""
    inline = f"{{{{ test_row_checks(model='checked_rows', checks={json.dumps(CHECKS)}) }}}}"
    run = workspace_module.dbt("compile", "--inline", inline, "--output", "json", "--quiet")
    assert run.returncode == 0, run.output
    document, _ = json.JSONDecoder().raw_decode(run.output[run.output.index("{") :])
    return str(document["compiled"])


def _rows(a: list, b: list, c: list, label: list) -> pd.DataFrame:
    """Nullable integer columns, so that a missing value is SQL's null."""
    return pd.DataFrame(
        {
            "a": pd.array(a, dtype="Int64"),
            "b": pd.array(b, dtype="Int64"),
            "c": pd.array(c, dtype="Int64"),
            "label": pd.array(label, dtype="string"),
        }
    )


def _failures(sql: str, rows: pd.DataFrame) -> dict[str, int]:
    with duckdb.connect() as con:
        con.register("checked_rows", rows)
        return dict(con.execute(sql).fetchall())


def test_rows_that_keep_every_check_pass(compiled: str) -> None:
    # A null value is in range (as accepted_range had it); a = 0 is outside the `where`.
    rows = _rows(a=[1, None, 0], b=[1, 2, 3], c=[5, 6, None], label=["x", None, "its"])
    assert _failures(compiled, rows) == {}


def test_an_empty_table_passes(compiled: str) -> None:
    assert _failures(compiled, _rows(a=[], b=[], c=[], label=[])) == {}


def test_each_broken_check_is_one_row_counting_its_rows(compiled: str) -> None:
    rows = _rows(
        a=[-2, 1, None, 2], b=[None, 2, 4, None], c=[7, 12, 200, 3], label=["it's", "x", "y", "z"]
    )
    # a=-2 breaks a >= 0 but its c (7) is outside `where`; a=1 with c=12 breaks c < 10,
    # a=None with c=200 too (the where takes it); c >= 7 breaks c < 7 on three rows;
    # c=200 and c=3 break the [5, 100] range; b is null twice; the quoted label once;
    # b = 4 is not an accepted value (nulls are), nor are the labels y and z.
    assert _failures(compiled, rows) == {
        LABELS[0]: 2,
        LABELS[1]: 2,
        LABELS[2]: 1,
        LABELS[3]: 3,
        LABELS[4]: 2,
        LABELS[5]: 1,
        LABELS[6]: 1,
        LABELS[7]: 2,
    }


def test_a_range_without_bounds_stops_compilation_naming_the_column(
    workspace_module: Workspace,
) -> None:
    inline = "{{ test_row_checks(model='checked_rows', checks=[{'column': 'amount'}]) }}"
    run = workspace_module.dbt("compile", "--inline", inline, "--quiet")
    assert run.returncode != 0
    assert "the range check on 'amount' needs min_value or max_value" in run.output
