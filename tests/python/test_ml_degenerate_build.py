"""The whole project builds on a purchase history the churn model cannot learn from.

Only the two required landing files (crm_customers, orders): no web events, consents,
campaign events or products, and a history in which every buyer stopped buying long before
the training cutoff, so every training label is "churned" (a single class). The build must
exit 0, the segments and their health must still be there, the churn scores must be empty,
and audit.model_runs must say why.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import NO_UNIT_TESTS, Workspace, frame
from segwarehouse.ml.run_log import RUN_LOG_SCHEMA

AS_OF = {"as_of_date": "2026-06-30", "segments__loaded_at": "2026-07-01 00:00:00"}
BUYERS = 150
# Every order is at least a year before as_of_date, far before the training cutoff (the
# retrain anchor minus ml__churn_horizon_days = 90): nobody buys within the label horizon.
LAST_ORDER_DAY = date(2025, 6, 30)
PYTHON_MODELS = {
    path.stem for path in (Path(__file__).resolve().parents[2] / "python_models").rglob("*.py")
}


def write_orders_only_history(raw_dir: Path) -> None:
    """crm_customers.csv and orders.csv: BUYERS customers with 1 to 4 completed orders of
    varied amounts between 2024-01-01 and LAST_ORDER_DAY."""
    crm = ["customer_id,email,first_name,last_name,created_at"]
    orders = ["order_id,customer_id,order_ts,status,order_total"]
    order_number = 0
    for i in range(BUYERS):
        crm.append(f"C{i},buyer{i}@example.com,First{i},Last{i},2024-01-01 00:00:00")
        for k in range(1 + i % 4):
            order_number += 1
            day = LAST_ORDER_DAY - timedelta(days=(i * 37 + k * 53) % 540)
            orders.append(
                f"O{order_number},C{i},{day.isoformat()} 10:00:00,completed,"
                f"{10 + (i * 7 + k * 13) % 190}.00"
            )
    (raw_dir / "crm_customers.csv").write_text("\n".join(crm) + "\n")
    (raw_dir / "orders.csv").write_text("\n".join(orders) + "\n")


@pytest.fixture(scope="module")
def orders_only(
    tmp_path_factory: pytest.TempPathFactory, dbt_project: Path
) -> tuple[Workspace, str]:
    """The project built on the orders-only history; (workspace, dbt output)."""
    root = tmp_path_factory.mktemp("orders_only")
    raw_dir = root / "raw"
    raw_dir.mkdir()
    (root / "spill").mkdir()
    workspace = Workspace(raw_dir=raw_dir, warehouse=root / "warehouse.duckdb", scratch=root)
    write_orders_only_history(raw_dir)
    run = workspace.dbt("build", *NO_UNIT_TESTS, dbt_vars=AS_OF)
    return workspace, f"exit {run.returncode}\n{run.output}"


def test_build_exits_0_and_keeps_segments_without_a_churn_model(orders_only) -> None:
    workspace, output = orders_only
    assert output.startswith("exit 0"), output
    [(members,)] = workspace.query("select count(*) from marts.segment_membership")
    [(healthy,)] = workspace.query("select count(*) from marts.segment_health")
    assert members >= BUYERS and healthy > 0
    # no churn score, so every buyer is in the fallback churn-risk segment
    assert workspace.query("select count(*) from marts.customer_churn_scores") == [(0,)]
    assert workspace.query(
        "select segment_id, count(*) from marts.segment_membership "
        "where segment_family = 'churn_risk' group by all"
    ) == [("churn_risk_unscored", BUYERS)]
    # the missing score reads as null downstream
    assert workspace.query(
        "select count(*) filter (where mean_churn_probability is not null) "
        "from marts.segment_health"
    ) == [(0,)]


def test_model_runs_say_why_churn_was_skipped(orders_only) -> None:
    workspace, output = orders_only
    assert output.startswith("exit 0"), output
    runs = frame(
        workspace,
        "select model_name, status, reason, output_rows from audit.model_runs "
        "where is_current_invocation",
    ).set_index("model_name")
    assert set(runs.index) == PYTHON_MODELS
    assert "failed" not in set(runs["status"])
    churn = runs.loc["int_churn_model"]
    assert churn["status"] == "skipped"
    assert "150 churned, 0 not churned" in churn["reason"] and "single class" in churn["reason"]
    for dependant in ("customer_churn_scores", "model_feature_importance", "model_metrics"):
        assert runs.loc[dependant, "status"] == "skipped", dependant
        assert "no churn model" in runs.loc[dependant, "reason"], dependant
    assert runs.loc["campaign_lift", "status"] == "skipped"
    assert "no campaign" in runs.loc["campaign_lift", "reason"]
    assert runs.loc["customer_clusters", "status"] == "ok"
    assert runs.loc["customer_clusters", "output_rows"] == BUYERS


def test_run_log_table_has_the_python_schema(orders_only) -> None:
    workspace, _ = orders_only
    columns = workspace.query(
        "select column_name, lower(data_type) from information_schema.columns "
        "where table_schema = 'audit' and table_name = 'ml_model_run_log' "
        "order by ordinal_position"
    )
    assert columns == list(RUN_LOG_SCHEMA.items())
