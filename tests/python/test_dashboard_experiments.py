"""The first page's holdout experiments (marts.experiment_results) read back from index.html.

The figures are taken from the rendered table's data-* attributes and its decision cells, and
compared with the mart's rows read with plain DuckDB; the interval/decision agreement is
checked on what the page shows, not recomputed by the dashboard's code.
"""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from segwarehouse.dashboard import build_report
from segwarehouse.dashboard.overview_experiments import (
    INCONCLUSIVE,
    METRICS,
    NO_TEST,
    NOT_MEASURED,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    WORTH_DETECTING,
)
from test_dashboard import make_synthetic_warehouse, published_serving_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
# page attribute -> mart column, per metric
FIGURES = {
    "lift": "lift_abs",
    "low": "ci_adjusted_low",
    "high": "ci_adjusted_high",
    "p": "p_value",
    "p-adjusted": "p_value_adjusted",
    "mde": "min_detectable_effect",
}


class _HoldoutTable(HTMLParser):
    """Every row of #holdout-table: its experiment and the data-* attributes of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.rows: dict[str, dict[str, str]] = {}
        self.current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "table" and values.get("id") == "holdout-table":
            self.inside = True
        elif self.inside and tag == "tr" and "data-experiment" in values:
            self.current = self.rows.setdefault(values["data-experiment"], {})
        elif self.inside and tag == "td" and self.current is not None:
            self.current.update({k[5:]: v for k, v in values.items() if k.startswith("data-")})

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False


def page_rows(index: Path) -> dict[str, dict[str, str]]:
    """experiment_id -> {"conversion-lift": "0.05", ..., "conversion-decision": ...}."""
    parser = _HoldoutTable()
    parser.feed(index.read_text())
    return parser.rows


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def assert_page_equals_mart(rows: dict[str, dict[str, str]], mart: pd.DataFrame) -> None:
    """The page's figures are the mart's, row by row; its decisions its BH decisions."""
    assert sorted(rows) == sorted(mart["experiment_id"])
    for record in mart.to_dict("records"):
        shown = rows[record["experiment_id"]]
        for metric in METRICS:
            for attribute, column in FIGURES.items():
                expected = record[f"{metric}_{column}"]
                got = _number(shown[f"{metric}-{attribute}"])
                if pd.isna(expected):
                    assert got is None, (record["experiment_id"], metric, attribute)
                else:
                    assert got == pytest.approx(float(expected), rel=1e-12, abs=1e-15)
            decided = record[f"is_{metric}_significant_adjusted"]
            assert (shown[f"{metric}-decision"] == SIGNIFICANT) == (decided is True), record


def assert_intervals_agree_with_decisions(rows: dict[str, dict[str, str]]) -> int:
    """For every shown interval: it excludes 0 exactly when the shown decision is
    significant. Returns how many intervals were checked."""
    checked = 0
    for experiment, shown in rows.items():
        for metric in METRICS:
            low, high = _number(shown[f"{metric}-low"]), _number(shown[f"{metric}-high"])
            if low is None:
                assert shown[f"{metric}-decision"] != SIGNIFICANT, (experiment, metric)
                continue
            excludes_zero = low > 0 or high < 0
            assert excludes_zero == (shown[f"{metric}-decision"] == SIGNIFICANT), (
                experiment,
                metric,
                low,
                high,
                shown[f"{metric}-decision"],
            )
            checked += 1
    return checked


def holdout_results() -> pd.DataFrame:
    """Four experiments: significant after BH; nominally significant but not after BH, with
    arms too small (its unadjusted interval excludes 0, the adjusted one does not); not
    significant with enough members; all members still pending."""
    nan = float("nan")
    return pd.DataFrame(
        {
            "experiment_id": ["exp_a", "exp_b", "exp_c", "exp_d"],
            "segment_id": ["seg_a", "seg_b", "seg_c", "seg_d"],
            "members_treatment": [4000, 396, 9000, 0],
            "members_control": [1000, 98, 9000, 0],
            "members_pending": [0, 54, 0, 217],
            "conversion_lift_abs": [0.05, -0.089, 0.001, nan],
            "conversion_ci_low": [0.03, -0.176, -0.003, nan],
            "conversion_ci_high": [0.07, -0.002, 0.005, nan],
            "conversion_ci_adjusted_low": [0.02, -0.2, -0.004, nan],
            "conversion_ci_adjusted_high": [0.08, 0.022, 0.006, nan],
            "conversion_p_value": [0.0001, 0.045, 0.6, nan],
            "conversion_p_value_adjusted": [0.0003, 0.0675, 0.6, nan],
            "conversion_test": ["newcombe", "newcombe", "newcombe", "none"],
            "is_conversion_significant": [True, True, False, None],
            "is_conversion_significant_adjusted": [True, False, False, None],
            "conversion_min_detectable_effect": [0.012, 0.14, 0.004, nan],
            "revenue_lift_abs": [2.5, 1.0, -0.1, nan],
            "revenue_ci_low": [0.4, -1.0, -0.5, nan],
            "revenue_ci_high": [4.6, 3.0, 0.3, nan],
            "revenue_ci_adjusted_low": [0.1, -1.5, -0.6, nan],
            "revenue_ci_adjusted_high": [4.9, 3.5, 0.4, nan],
            "revenue_p_value": [0.02, 0.3, 0.7, nan],
            "revenue_p_value_adjusted": [0.03, 0.45, 0.7, nan],
            "revenue_test": ["welch", "bootstrap", "welch", "none"],
            "is_revenue_significant": [True, False, False, None],
            "is_revenue_significant_adjusted": [True, False, False, None],
            "revenue_min_detectable_effect": [2.0, 8.4, 0.5, nan],
            "alpha": 0.05,
            "as_of_date": date(2026, 6, 30),
        }
    )


EXPECTED_VERDICTS = {
    "exp_a": {"conversion": SIGNIFICANT, "revenue": SIGNIFICANT},
    "exp_b": {"conversion": INCONCLUSIVE, "revenue": INCONCLUSIVE},
    "exp_c": {"conversion": NOT_SIGNIFICANT, "revenue": NOT_SIGNIFICANT},
    "exp_d": {"conversion": NOT_MEASURED, "revenue": NOT_MEASURED},
}


def holdout_warehouse(path: Path) -> Path:
    return make_synthetic_warehouse(path, {"experiment_results": holdout_results()})


def test_hand_made_results_on_the_page(tmp_path):
    report = build_report(holdout_warehouse(tmp_path / "exp.duckdb"), tmp_path / "site")
    rows = page_rows(report.path.parent / "index.html")
    assert_page_equals_mart(rows, holdout_results())
    # exp_b's unadjusted interval excludes 0: pairing it with the BH decision would fail here.
    assert assert_intervals_agree_with_decisions(rows) == 6
    verdicts = {
        experiment: {metric: shown[f"{metric}-decision"] for metric in METRICS}
        for experiment, shown in rows.items()
    }
    assert verdicts == EXPECTED_VERDICTS
    page = (report.path.parent / "index.html").read_text()
    assert "inconclusive: too small (detects 14.00 pp or more; worth detecting 1.00)" in page


def test_a_result_without_a_test_says_so(tmp_path):
    results = holdout_results()
    results.loc[0, ["revenue_p_value", "revenue_p_value_adjusted"]] = float("nan")
    results.loc[0, ["revenue_ci_adjusted_low", "revenue_ci_adjusted_high"]] = float("nan")
    results.loc[0, "is_revenue_significant_adjusted"] = None
    path = make_synthetic_warehouse(tmp_path / "exp.duckdb", {"experiment_results": results})
    rows = page_rows(build_report(path, tmp_path / "site").path.parent / "index.html")
    assert rows["exp_a"]["revenue-decision"] == NO_TEST
    assert rows["exp_a"]["conversion-decision"] == SIGNIFICANT


def test_worth_detecting_is_the_project_vars():
    variables = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {
        metric: variables[f"experiments__min_detectable_effect_{metric}"] for metric in METRICS
    } == WORTH_DETECTING


def test_exposure_lists_experiment_results():
    exposures = yaml.safe_load((PROJECT_DIR / "models/marts/_exposures.yml").read_text())
    dashboard = next(e for e in exposures["exposures"] if e["name"] == "segment_health_dashboard")
    assert "ref('experiment_results')" in dashboard["depends_on"]


@pytest.fixture(scope="module")
def serving(built, tmp_path_factory) -> Path:
    return published_serving_file(built, tmp_path_factory)


def test_published_experiment_results_on_the_page(serving, tmp_path):
    with duckdb.connect(str(serving), read_only=True) as con:
        mart = con.execute("select * from marts.experiment_results").df()
    assert len(mart) > 0  # published with the marts schema
    rows = page_rows(build_report(serving, tmp_path / "site").path.parent / "index.html")
    assert_page_equals_mart(rows, mart)
    assert_intervals_agree_with_decisions(rows)
