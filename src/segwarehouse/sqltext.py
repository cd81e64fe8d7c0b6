"""Quoting a Python value into SQL text.

Values go to DuckDB as ``?`` parameters wherever a statement takes them (``ATTACH``, ``SET``,
queries run with ``execute``). A few places cannot: a ``COPY ... TO`` target, a table
function's file argument inside SQL assembled as text, a filter string handed to a relation.
Those write a literal with :func:`sql_literal`, so a path or value holding a quote stays one
string instead of ending the statement.
"""

from __future__ import annotations

import os


def sql_literal(value: str | os.PathLike[str]) -> str:
    """``value`` (a string or a path) as a single-quoted SQL string literal."""
    return "'" + os.fspath(value).replace("'", "''") + "'"
