"""The project's dbt-score rule and configuration (`make lint` scores the dbt metadata)."""

from types import SimpleNamespace

import pytest
from dbt_score.config import Config

from conftest import PROJECT_DIR
from segwarehouse.score_rules import has_grain_test


def model(model_tests: list[str], column_tests: list[str]) -> SimpleNamespace:
    """A stand-in for dbt_score.Model with only what the rule reads."""
    column = SimpleNamespace(tests=[SimpleNamespace(type=name) for name in column_tests])
    return SimpleNamespace(
        tests=[SimpleNamespace(type=name) for name in model_tests], columns=[column]
    )


@pytest.fixture
def project_config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(PROJECT_DIR)
    config = Config()
    config.load()
    return config


def test_the_projects_uniqueness_test_is_a_grain_test(project_config: Config) -> None:
    """unique_combination_of_columns (macros/tests/) counts as a grain, as dbt's unique does;
    a model with neither is reported."""
    rule_config = project_config.rules_config["segwarehouse.score_rules.has_grain_test"]
    rule = has_grain_test(rule_config)
    assert rule.evaluate(model(["unique_combination_of_columns"], []), **rule.config) is None
    assert rule.evaluate(model([], ["not_null", "unique"]), **rule.config) is None
    violation = rule.evaluate(model(["row_checks"], ["not_null"]), **rule.config)
    assert violation is not None
    assert "unique_combination_of_columns" in violation.message


def test_lint_floor_and_rule_set(project_config: Config) -> None:
    """The floor `make lint` enforces, and the built-in PK rule replaced by the project's."""
    assert project_config.fail_project_under >= 9.0
    assert "segwarehouse.score_rules" in project_config.rule_namespaces
    assert "dbt_score.rules.generic.has_uniqueness_test" in project_config.disabled_rules
