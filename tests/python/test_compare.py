"""segwarehouse.compare: two warehouse files, table by table, row for row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from segwarehouse import compare


def _warehouse(path: Path, statements: list[str]) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging; create schema marts; create schema audit")
        for statement in statements:
            con.execute(statement)
    return path


@pytest.fixture
def pair(tmp_path: Path, dbt_project: Path) -> tuple[Path, Path]:
    """Two builds: run columns and float noise differ in `same`, one row in `changed`, a
    repeated row in `repeated`, and each side has a table the other lacks."""
    left = _warehouse(
        tmp_path / "left.duckdb",
        [
            "create table staging.same as select 1 as id, 0.1 + 0.2 as share,"
            " 'day-1.parquet' as landing_file",
            "create table marts.changed as select * from (values (1, 'a'), (2, 'b')) t(id, v)",
            "create table marts.repeated as select * from (values (1), (2)) t(id)",
            "create table marts.left_only as select 1 as id",
            "create table marts.widened as select 1 as id",
            "create table audit.ignored as select 1 as id",
        ],
    )
    right = _warehouse(
        tmp_path / "right.duckdb",
        [
            "create table staging.same as select 1 as id, 0.3 as share,"
            " 'history.parquet' as landing_file",
            "create table marts.changed as select * from (values (1, 'a'), (2, 'c')) t(id, v)",
            "create table marts.repeated as select * from (values (1), (2), (2)) t(id)",
            "create table marts.right_only as select 1 as id",
            "create table marts.widened as select 1 as id, 'new' as extra",
        ],
    )
    return left, right


def test_tables_are_compared_row_for_row(pair: tuple[Path, Path]) -> None:
    result = compare.compare_warehouses(*pair)
    tables = {table.table: table for table in result.tables}
    assert set(tables) == {"staging.same", "marts.changed", "marts.repeated", "marts.widened"}
    widened = tables["marts.widened"]  # same rows on the shared column, one column more
    assert (widened.only_left, widened.only_right) == (0, 0)
    assert widened.right_only_columns == ("extra",) and not widened.equal
    same = tables["staging.same"]
    assert same.equal and same.excluded == ("landing_file",) and same.columns == 2
    changed = tables["marts.changed"]
    assert (changed.only_left, changed.only_right, changed.equal) == (1, 1, False)
    repeated = tables["marts.repeated"]
    assert (repeated.left_rows, repeated.right_rows) == (2, 3)
    assert (repeated.only_left, repeated.only_right) == (0, 1)
    assert result.only_in_left == ("marts.left_only",)
    assert result.only_in_right == ("marts.right_only",)
    assert not result.equal
    report = compare.render_markdown(result)
    assert "| marts.changed | 2 | 2 | 1 | 1 | **no** |" in report
    assert "Only in left: marts.left_only" in report
    assert "marts.widened: columns only in right: extra" in report


def test_command_exit_codes(pair: tuple[Path, Path], tmp_path: Path) -> None:
    left, right = pair
    out = tmp_path / "result.json"
    assert compare.main(["--left", str(left), "--right", str(right), "--json", str(out)]) == 1
    written = json.loads(out.read_text())
    assert written["equal"] is False
    assert {table["table"]: table["equal"] for table in written["tables"]}["staging.same"]
    assert compare.main(["--left", str(left), "--right", str(right), "--schema", "staging"]) == 0
    missing = tmp_path / "missing.duckdb"
    assert compare.main(["--left", str(left), "--right", str(missing)]) == 2


def test_a_temporary_table_is_compared_with_an_attached_one(pair: tuple[Path, Path]) -> None:
    left, _right = pair
    with duckdb.connect() as con:
        con.execute("attach ? as built (read_only)", [str(left)])
        con.execute(
            "create temp table changed as select * from (values (2, 'b'), (3, 'z')) t(id, v)"
        )
        result = compare.compare_relations(
            con,
            compare.Relation("built", "marts", "changed"),
            compare.Relation("temp", "main", "changed"),
            label="changed",
        )
        assert (result.left_rows, result.right_rows) == (2, 2)
        assert (result.only_left, result.only_right) == (1, 1) and not result.equal
        with pytest.raises(ValueError, match=re.escape('"temp"."main"."missing": no such table')):
            compare.compare_relations(
                con,
                compare.Relation("built", "marts", "changed"),
                compare.Relation("temp", "main", "missing"),
            )
