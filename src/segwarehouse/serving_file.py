"""The serving file's shape for every reader: an older storage version, comments, keys.

`publish` writes the serving file through `attach_serving`, in DuckDB storage version
SERVING_STORAGE_VERSION (v1.4.0: the long-term-support line most BI drivers bundle; DuckDB
2.0's default format is unreadable to them). `copy_table` recreates each table from the work
warehouse's column list instead of CREATE TABLE AS, so the table and column comments dbt
persisted (persist_docs) are carried over, and the grain the dbt YAML tests becomes visible:
a single column tested `unique` becomes the PRIMARY KEY; a grain of several columns (a
model-level `unique_combination_of_columns`) is written into the table comment instead, because
DuckDB's index for it costs more than the table (6M rows of three text columns: 25 MB and
1.4 s without, 501 MB and 11.2 s with). A key the data breaks (nulls, duplicates) is published
without the key and said so: dbt's own tests are what fail a build for that. The caller copies
in one transaction (one WAL sync, not one per table and comment).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import yaml

SERVING_STORAGE_VERSION = "v1.4.0"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_FOLDERS = ("models", "python_models")


def attach_serving(con: duckdb.DuckDBPyConnection, path: Path, alias: str = "serving") -> None:
    """Attach a new serving file in SERVING_STORAGE_VERSION and make it the default catalog."""
    con.execute(f"attach ? as {alias} (storage_version '{SERVING_STORAGE_VERSION}')", [str(path)])
    con.execute(f"use {alias}")


# PyYAML's safe loader on libyaml when the wheel has it (about 10x faster over the ~80 model
# YAML files the gate reads on every refresh), else the pure-Python one: the same documents.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def grain_keys(project_dir: Path) -> dict[str, tuple[str, ...]]:
    """Model name -> its grain from the dbt YAML: the first column tested `unique` (without a
    `where`), else the first model-level unique_combination_of_columns of plain columns."""
    keys: dict[str, tuple[str, ...]] = {}
    for folder in _YAML_FOLDERS:
        for path in sorted((project_dir / folder).rglob("*.yml")):
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or {}
            for model in document.get("models") or []:
                key = _model_grain(model)
                if key:
                    keys[str(model["name"])] = key
    return keys


def _model_grain(model: dict[str, Any]) -> tuple[str, ...] | None:
    for column in model.get("columns") or []:
        name = str(column.get("name", ""))
        if _IDENTIFIER.match(name) and any(_is_plain_unique(t) for t in _tests(column)):
            return (name,)
    for test in _tests(model):
        if isinstance(test, dict) and "unique_combination_of_columns" in test:
            spec = test["unique_combination_of_columns"] or {}
            columns = (spec.get("arguments") or spec).get("combination_of_columns") or []
            if columns and all(_IDENTIFIER.match(str(c)) for c in columns):
                return tuple(str(c) for c in columns)
    return None


def _tests(node: dict[str, Any]) -> list[Any]:
    return list(node.get("data_tests") or []) + list(node.get("tests") or [])


def _is_plain_unique(test: Any) -> bool:
    if test == "unique":
        return True
    if isinstance(test, dict) and "unique" in test:
        config = (test["unique"] or {}).get("config") or {}
        return "where" not in config
    return False


def copy_table(
    con: duckdb.DuckDBPyConnection,
    source: str,
    schema: str,
    table: str,
    key: tuple[str, ...] | None,
) -> str | None:
    """Copy `source`.`schema`.`table` into the default catalog with its comments; a one-column
    `key` as primary key, a longer one in the table comment. Returns a note when the primary
    key is not kept (the data breaks it), else None. Checks the key first: a failed insert
    would abort the caller's transaction."""
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns() "
        "where database_name = ? and schema_name = ? and table_name = ? order by column_index",
        [source, schema, table],
    ).fetchall()
    [(comment,)] = con.execute(
        "select comment from duckdb_tables() "
        "where database_name = ? and schema_name = ? and table_name = ?",
        [source, schema, table],
    ).fetchall()
    origin = f'"{source}"."{schema}"."{table}"'
    key = key if key and set(key) <= {name for name, _, _ in columns} else None
    broken = _key_violation(con, origin, key) if key and len(key) == 1 else None
    definitions = [f'"{name}" {data_type}' for name, data_type, _ in columns]
    if key and len(key) == 1 and not broken:
        definitions.append(f"primary key ({_quote(key[0])})")
    elif key and len(key) > 1:
        grain = f"Grain: one row per ({', '.join(key)}), tested unique by dbt."
        comment = f"{comment.rstrip()} {grain}" if comment else grain
    target = f'"{schema}"."{table}"'
    con.execute(f"create table {target} ({', '.join(definitions)})")
    con.execute(f"insert into {target} select * from {origin}")
    if comment:
        con.execute(f"comment on table {target} is {_literal(comment)}")
    for name, _, column_comment in columns:
        if column_comment:
            con.execute(f"comment on column {target}.{_quote(name)} is {_literal(column_comment)}")
    if broken:
        return f"serving: {schema}.{table} published without its primary key {key}: {broken}"
    return None


def _key_violation(con: duckdb.DuckDBPyConnection, origin: str, key: tuple[str, ...]) -> str | None:
    """Why `key` is not a primary key of `origin` (nulls, duplicates), else None."""
    columns = ", ".join(_quote(column) for column in key)
    any_null = " or ".join(f"{_quote(column)} is null" for column in key)
    [(nulls, duplicates)] = con.execute(
        f"select count(*) filter (where {any_null}), count(*) - count(distinct ({columns})) "
        f"from {origin}"
    ).fetchall()
    if nulls:
        return f"{nulls:,} rows with a null key column"
    if duplicates:
        return f"{duplicates:,} duplicate keys"
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
