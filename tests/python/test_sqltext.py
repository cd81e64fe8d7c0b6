"""sql_literal: a value written into SQL text stays one string, quotes and all."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from segwarehouse.sqltext import sql_literal


@pytest.mark.parametrize("value", ["plain", "it's", "''", "a'; drop table x; --", ""])
def test_a_literal_reads_back_as_the_same_string(value: str) -> None:
    with duckdb.connect() as con:
        [(read_back,)] = con.sql(f"select {sql_literal(value)}").fetchall()
    assert read_back == value


def test_a_path_with_a_quote_is_written_and_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "o'brien's files"
    folder.mkdir()
    target = folder / "rows.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select range as n from range(3)) to {sql_literal(target)} (format parquet)"
        )
        [(total,)] = con.sql(f"select sum(n) from read_parquet({sql_literal(target)})").fetchall()
    assert target.is_file()
    assert total == 3
