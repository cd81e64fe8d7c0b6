"""The date a dbt build is as of, for the dbt Python models (model int_run_context).

A Python model's YAML config is rendered when dbt parses the project. A scheduled job that
lets as_of_date default to the run date (no --vars) keeps its previous parse (partial
parsing) when no file changed, so a date rendered into a config would be the date of the
last full parse, not the day's. int_run_context renders the date when it runs, with the same
macros as the SQL models, and the Python models read it from there.
"""

from __future__ import annotations

from typing import Any

RUN_CONTEXT_MODEL = "int_run_context"


class RunContextError(ValueError):
    """int_run_context does not hold exactly one as_of_date."""


def run_as_of_date(context: Any) -> str:
    """The as_of_date ('YYYY-MM-DD') of the one row of int_run_context (a DuckDB relation)."""
    rows = context.project("strftime(as_of_date, '%Y-%m-%d')").fetchall()
    if len(rows) != 1 or rows[0][0] is None:
        raise RunContextError(
            f"{RUN_CONTEXT_MODEL} holds {len(rows)} rows, expected one with an as_of_date: "
            f"build it with the Python model (dbt build --select {RUN_CONTEXT_MODEL}+)."
        )
    return str(rows[0][0])
