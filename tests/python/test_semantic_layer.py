"""The semantic layer answers from the warehouse what SQL over the marts answers, and the dbt
docs site generates with every model documented."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_process import mf_rows
from conftest import BUILD_VARS, PROJECT_DIR, Workspace, copied_workspace


@pytest.fixture(scope="module")
def mf_project(built: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder `mf` can run in: the project and profile files and the built semantic manifest.

    mf reads target/semantic_manifest.json under the folder it runs in (it ignores dbt's
    --target-path), so the test gives it the built workspace's manifest there.
    """
    root = tmp_path_factory.mktemp("mf")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, root / name)
    (root / "target").mkdir()
    shutil.copy(built.scratch / "target" / "semantic_manifest.json", root / "target")
    return root


@pytest.fixture(scope="module")
def built_copy(built: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A private copy of the built warehouse, under the same file name (the semantic manifest
    names its catalog after it): `mf` and `dbt docs generate` open the warehouse for writing,
    which the other test worker's readers of the shared `built` would collide with."""
    return copied_workspace(built, tmp_path_factory.mktemp("built_copy"))


MetricQuery = Callable[[str, str], list[dict[str, str]]]


@pytest.fixture(scope="module")
def mf_query(mf_project: Path, built_copy: Workspace) -> MetricQuery:
    """`mf query --metrics <metrics> --group-by <group_by>` against the copy of the built
    warehouse: its rows as text."""
    env = {"SEGMENTS_WAREHOUSE": str(built_copy.warehouse)}
    return lambda metrics, group_by: mf_rows(
        mf_project, env, "--metrics", metrics, "--group-by", group_by
    )


def test_revenue_by_rfm_segment_by_month_matches_sql(
    mf_query: MetricQuery, built: Workspace
) -> None:
    rows = mf_query(
        "revenue,orders,average_order_value", "metric_time__month,customer__rfm_segment"
    )
    expected = {
        (str(month)[:10], segment): (float(revenue), int(orders))
        for month, segment, revenue, orders in built.query(
            """
            select
                date_trunc('month', o.order_date),
                r.rfm_segment,
                sum(case when o.is_completed then o.order_total else 0 end),
                count(*) filter (where o.is_completed)
            from marts.fct_orders as o
            inner join marts.customer_rfm as r using (customer_key)
            group by all
            """
        )
    }
    got = {(row["metric_time__month"][:10], row["customer__rfm_segment"]): row for row in rows}
    assert set(got) == set(expected)
    for key, (revenue, orders) in expected.items():
        assert float(got[key]["revenue"]) == pytest.approx(revenue, rel=1e-9)
        assert int(float(got[key]["orders"])) == orders
        if orders:  # a month of only cancelled or returned orders has no AOV
            assert float(got[key]["average_order_value"]) == pytest.approx(
                revenue / orders, rel=1e-9
            )


def test_mean_clv_and_churn_by_segment_match_sql(mf_query: MetricQuery, built: Workspace) -> None:
    rows = mf_query("mean_clv,mean_churn_risk", "customer__lifecycle_stage")
    expected = dict(
        (stage, (clv, churn))
        for stage, clv, churn in built.query(
            """
            select r.lifecycle_stage, avg(c.clv), avg(s.churn_probability)
            from marts.customer_rfm as r
            inner join marts.customer_clv as c using (customer_key)
            left join marts.customer_churn_scores as s using (customer_key)
            group by all
            """
        )
    )
    got = {row["customer__lifecycle_stage"]: row for row in rows}
    assert set(got) == set(expected)
    for stage, (clv, _churn) in expected.items():
        assert float(got[stage]["mean_clv"]) == pytest.approx(clv, rel=1e-9)


def test_segment_size_matches_membership(mf_query: MetricQuery, built: Workspace) -> None:
    rows = mf_query("segment_size", "membership__segment_id")
    expected = dict(
        built.query(
            "select segment_id, count(distinct customer_key) "
            "from marts.segment_membership group by 1"
        )
    )
    got = {row["membership__segment_id"]: int(float(row["segment_size"])) for row in rows}
    assert got == expected


def test_segment_health_metrics_match_the_mart(mf_query: MetricQuery, built: Workspace) -> None:
    rows = mf_query(
        "segment_members,segment_members_revenue,segment_conversion_rate", "segment_run__segment_id"
    )
    expected = {
        segment: (members, float(revenue), rate)
        for segment, members, revenue, rate in built.query(
            "select segment_id, members, net_revenue, conversion_rate from marts.segment_health "
            "where as_of_date = (select max(as_of_date) from marts.segment_health)"
        )
    }
    got = {row["segment_run__segment_id"]: row for row in rows}
    assert set(got) == set(expected)
    for segment, (members, revenue, rate) in expected.items():
        assert int(float(got[segment]["segment_members"])) == members
        assert float(got[segment]["segment_members_revenue"]) == pytest.approx(revenue, rel=1e-9)
        if members:
            assert float(got[segment]["segment_conversion_rate"]) == pytest.approx(rate, rel=1e-9)


def test_dbt_docs_generate_documents_every_model(built_copy: Workspace) -> None:
    run = built_copy.dbt("docs", "generate", dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    target = built_copy.scratch / "target"
    assert (target / "index.html").is_file()
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = {
        key: node
        for key, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == "segments"
    }
    undocumented = [key for key, node in models.items() if not node["description"].strip()]
    assert not undocumented
    missing_columns = [
        f"{key}.{column}"
        for key, node in models.items()
        if key in catalog["nodes"]
        for column in catalog["nodes"][key]["columns"]
        if not node["columns"].get(column, {}).get("description", "").strip()
    ]
    assert not missing_columns, missing_columns[:20]
    exposures = {node["name"] for node in manifest["exposures"].values()}
    assert {"segment_health_dashboard", "audience_exports", "scheduled_refresh"} <= exposures
