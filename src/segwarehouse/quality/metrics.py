"""Every expectation's metrics computed in DuckDB; GX checks the aggregates, not the rows.

GX's pandas engine needs the whole frame in memory (the marts at 1M customers are tens of
millions of values) to compute a handful of numbers per expectation: the row count, the null
count, how many values fail, a few examples. Here DuckDB computes exactly those numbers with
the pandas engine's semantics, and the expectation's own `_validate` (GX's code: `mostly`,
vacuous truth, `min_value`/`max_value`, the SUMMARY result format) turns them into the result.

One aggregate query per suite scans the suite's frame once for the row count, every column's
null count and every map expectation's failures and examples; a uniqueness expectation adds one
GROUP BY query. Semantics kept from the pandas engine:

- null: SQL NULL, and NaN in a floating-point column (pandas' isnull);
- column map expectations look at non-null values only (`not_be_null` at all rows);
- `column_pair_values_to_be_equal` ignores rows where both values are missing, and a row with
  one value missing fails it (pandas `a == b`);
- `values_to_be_unique` fails every row whose value occurs more than once (keep=False);
  `compound_columns_to_be_unique` likewise, ignoring rows where all columns are missing;
- `match_regex` searches (re.search); the examples are the smallest failing values (GX listed
  the first ones in frame order, which DuckDB does not fix).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import great_expectations.expectations as gxe
from great_expectations.core import ExpectationValidationResult

EXAMPLES = 20  # GX's partial_unexpected_count in the SUMMARY result format
RESULT_FORMAT = {"result_format": {"result_format": "SUMMARY"}}
_FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}
_ROW_COUNT = (gxe.ExpectTableRowCountToBeBetween,)
_COLUMN_MAP = (
    gxe.ExpectColumnValuesToNotBeNull,
    gxe.ExpectColumnValuesToBeInSet,
    gxe.ExpectColumnValuesToNotBeInSet,
    gxe.ExpectColumnValuesToBeBetween,
    gxe.ExpectColumnValuesToMatchRegex,
)
_GROUPED = (gxe.ExpectColumnValuesToBeUnique, gxe.ExpectCompoundColumnsToBeUnique)
SUPPORTED = (*_ROW_COUNT, *_COLUMN_MAP, *_GROUPED, gxe.ExpectColumnPairValuesToBeEqual)


class UnsupportedExpectation(ValueError):
    """An expectation this module cannot compute in DuckDB (add it here before using it)."""


@dataclass
class _Query:
    """The suite's aggregate query under construction: expressions and their parameters."""

    columns: dict[str, str]
    aggregates: list[str] = field(default_factory=lambda: ["count(*)"])
    parameters: dict[str, Any] = field(default_factory=dict)

    def add(self, expression: str) -> int:
        """Add an aggregate; its position in the result row."""
        self.aggregates.append(expression)
        return len(self.aggregates) - 1

    def parameter(self, value: Any) -> str:
        """A named parameter holding `value`."""
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f"${name}"

    def is_null(self, column: str) -> str:
        quoted = quote(column)
        if self.columns[column] in _FLOAT_TYPES:
            return f"({quoted} is null or isnan({quoted}))"
        return f"({quoted} is null)"


def validate(
    con: duckdb.DuckDBPyConnection, source: str, expectations: Sequence[gxe.Expectation]
) -> list[ExpectationValidationResult]:
    """Each expectation's result on the rows of `source` (a SELECT), in order. An expectation
    on a column the frame lacks gets a failed result naming the column (as GX's would)."""
    columns = _column_types(con, source)
    query = _Query(columns)
    positions: dict[int, Any] = {}
    errors: dict[int, str] = {}
    for index, expectation in enumerate(expectations):
        if not isinstance(expectation, SUPPORTED):
            raise UnsupportedExpectation(
                f"{expectation.expectation_type} has no DuckDB metrics in "
                "segwarehouse/quality/metrics.py: add it there before using it in a suite"
            )
        missing = [c for c in _columns_of(expectation) if c not in columns]
        if missing:
            errors[index] = f"column(s) {', '.join(missing)} not in the suite's frame"
        elif not isinstance(expectation, _GROUPED):
            positions[index] = _plan(query, expectation)
    used = {c for i, e in enumerate(expectations) if i not in errors for c in _columns_of(e)}
    nulls = {c: query.add(f"count(*) filter (where {query.is_null(c)})") for c in sorted(used)}
    [row] = con.execute(
        f"select {', '.join(query.aggregates)} from ({source}) as frame", query.parameters
    ).fetchall()
    results = []
    for index, expectation in enumerate(expectations):
        if index in errors:
            results.append(_error(expectation, errors[index]))
            continue
        metrics = {"table.row_count": row[0]}
        if isinstance(expectation, _COLUMN_MAP + _GROUPED):
            metrics["column_values.nonnull.unexpected_count"] = (
                row[nulls[expectation.column]] if hasattr(expectation, "column") else None
            )
        if isinstance(expectation, _GROUPED):
            metrics |= _grouped_metrics(con, source, query, expectation)
        elif not isinstance(expectation, _ROW_COUNT):
            metrics |= _map_metrics(expectation, row, positions[index])
        results.append(_result(expectation, metrics))
    return results


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _column_types(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    rows = con.execute(f"describe ({source})").fetchall()
    return {str(row[0]): str(row[1]).upper() for row in rows}


def _columns_of(expectation: gxe.Expectation) -> list[str]:
    if isinstance(expectation, gxe.ExpectColumnPairValuesToBeEqual):
        return [expectation.column_A, expectation.column_B]
    if isinstance(expectation, gxe.ExpectCompoundColumnsToBeUnique):
        return list(expectation.column_list)
    column = getattr(expectation, "column", None)
    return [column] if column else []


def _plan(query: _Query, expectation: gxe.Expectation) -> tuple[int, ...]:
    """Add the expectation's aggregates: (failing count, examples[, rows considered])."""
    if isinstance(expectation, _ROW_COUNT):
        return ()
    if isinstance(expectation, gxe.ExpectColumnPairValuesToBeEqual):
        a, b = expectation.column_A, expectation.column_B
        considered = f"not ({query.is_null(a)} and {query.is_null(b)})"
        failing = (
            f"{considered} and ({query.is_null(a)} or {query.is_null(b)} "
            f"or {quote(a)} <> {quote(b)})"
        )
        pair = f"row({quote(a)}, {quote(b)})"
        return (
            query.add(f"count(*) filter (where {failing})"),
            query.add(f"min({pair}, {EXAMPLES}) filter (where {failing})"),
            query.add(f"count(*) filter (where {considered})"),
        )
    column = quote(expectation.column)
    is_null = query.is_null(expectation.column)
    if isinstance(expectation, gxe.ExpectColumnValuesToNotBeNull):
        return (query.add(f"count(*) filter (where {is_null})"), -1)
    failing = f"not {is_null} and not ({_holds(query, expectation, column)})"
    return (
        query.add(f"count(*) filter (where {failing})"),
        query.add(f"min({column}, {EXAMPLES}) filter (where {failing})"),
    )


def _holds(query: _Query, expectation: gxe.Expectation, column: str) -> str:
    """The SQL condition a non-null value must meet."""
    if isinstance(expectation, gxe.ExpectColumnValuesToBeInSet):
        return f"{column} in (select unnest({query.parameter(list(expectation.value_set))}))"
    if isinstance(expectation, gxe.ExpectColumnValuesToNotBeInSet):
        return f"{column} not in (select unnest({query.parameter(list(expectation.value_set))}))"
    if isinstance(expectation, gxe.ExpectColumnValuesToMatchRegex):
        return f"regexp_matches({column}::varchar, {query.parameter(expectation.regex)})"
    bounds = []
    if expectation.min_value is not None:
        operator = ">" if expectation.strict_min else ">="
        bounds.append(f"{column} {operator} {query.parameter(expectation.min_value)}")
    if expectation.max_value is not None:
        operator = "<" if expectation.strict_max else "<="
        bounds.append(f"{column} {operator} {query.parameter(expectation.max_value)}")
    if not bounds:
        raise UnsupportedExpectation(f"{expectation.expectation_type} needs min or max_value")
    return " and ".join(bounds)


def _map_metrics(expectation: gxe.Expectation, row: tuple, at: tuple[int, ...]) -> dict:
    name = type(expectation).map_metric
    failing = int(row[at[0]])
    if at[1] < 0:  # not_be_null: the failing values are the nulls
        examples: list[Any] = [None] * min(failing, EXAMPLES)
    else:
        examples = list(row[at[1]] or [])
    if isinstance(expectation, gxe.ExpectColumnPairValuesToBeEqual):
        examples = [tuple(pair) for pair in examples]
    metrics = {f"{name}.unexpected_count": failing, f"{name}.unexpected_values": examples}
    if len(at) > 2:
        metrics[f"{name}.filtered_row_count"] = int(row[at[2]])
    return metrics


def _grouped_metrics(
    con: duckdb.DuckDBPyConnection, source: str, query: _Query, expectation: gxe.Expectation
) -> dict:
    """Rows whose value (or combination) occurs more than once, and a few of them."""
    columns = _columns_of(expectation)
    keys = ", ".join(quote(c) for c in columns)
    if isinstance(expectation, gxe.ExpectColumnValuesToBeUnique):
        considered = f"not {query.is_null(columns[0])}"
    else:
        considered = "not (" + " and ".join(query.is_null(c) for c in columns) + ")"
    example = quote(columns[0]) if len(columns) == 1 else f"struct_pack({keys})"
    [(failing, examples, rows)] = con.execute(
        f"with considered as (select {keys} from ({source}) as frame where {considered}), "
        f"repeated as (select {keys}, count(*) as n from considered group by all having n > 1) "
        f"select (select coalesce(sum(n), 0) from repeated), "
        f"(select list(example order by example, k) from (select example, k from "
        f"(select {example} as example, unnest(range(least(n, {EXAMPLES}))) as k "
        f"from repeated) order by example, k limit {EXAMPLES})), "
        f"(select count(*) from considered)"
    ).fetchall()
    name = type(expectation).map_metric
    return {
        f"{name}.unexpected_count": int(failing),
        f"{name}.unexpected_values": list(examples or []),
        f"{name}.filtered_row_count": int(rows),
    }


def _result(expectation: gxe.Expectation, metrics: dict) -> ExpectationValidationResult:
    outcome = expectation._validate(metrics, runtime_configuration=RESULT_FORMAT)
    return ExpectationValidationResult(
        success=bool(outcome["success"]),
        result=outcome.get("result") or {},
        expectation_config=expectation.configuration,
    )


def _error(expectation: gxe.Expectation, message: str) -> ExpectationValidationResult:
    return ExpectationValidationResult(
        success=False,
        expectation_config=expectation.configuration,
        exception_info={
            "raised_exception": True,
            "exception_message": message,
            "exception_traceback": None,
        },
    )
