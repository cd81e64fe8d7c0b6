"""dbt-score rules of this project: `make lint` runs them beside dbt-score's own (the rule
namespaces and their settings are in pyproject.toml, [tool.dbt-score]).

No `from __future__ import annotations` here: dbt-score finds a rule's resource type from the
evaluated argument's annotation object, which postponed annotations would turn into a string.
"""

from dbt_score import Model, RuleViolation, rule

# The tests that pin a model's grain: dbt's own `unique` on a column, and the project's
# generic test `unique_combination_of_columns` (macros/tests/unique_combination_of_columns.sql)
# on several columns. dbt-score's has_uniqueness_test only looks at models with a primary-key
# constraint and knows only dbt_utils' spelling of the second.
GRAIN_TESTS = ("unique", "unique_combination_of_columns")


@rule
def has_grain_test(
    model: Model, grain_tests: tuple[str, ...] = GRAIN_TESTS
) -> RuleViolation | None:
    """A model declares its grain: a uniqueness test on a column or on a set of columns."""
    model_tests = {test.type for test in model.tests}
    column_tests = {test.type for column in model.columns for test in column.tests}
    if (model_tests | column_tests) & set(grain_tests):
        return None
    return RuleViolation(f"No grain test (one of {', '.join(grain_tests)}).")
