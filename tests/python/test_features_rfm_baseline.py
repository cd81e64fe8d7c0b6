"""The hand-written features + RFM baseline (benchmarks/features_rfm_baseline.sql) against the
dbt marts it stands in for: equal on every column of a full build, and its check really fails
when the result differs (another as_of_date; one column nudged beyond the double tolerance)."""

from __future__ import annotations

from pathlib import Path

from conftest import BUILD_VARS, PROJECT_DIR, BaselineRun, Workspace, run_floor

RUNNER = PROJECT_DIR / "benchmarks" / "features_rfm_baseline.py"
SCRIPT = PROJECT_DIR / "benchmarks" / "features_rfm_baseline.sql"
TABLES = ("customer_features", "customer_rfm")


def run_baseline(built: Workspace, tmp_path: Path, *extra: str) -> BaselineRun:
    """This floor's runner in a child process against the built warehouse."""
    return run_floor(RUNNER, built, tmp_path, *extra)


def mart_columns(built: Workspace, table: str) -> list[str]:
    """Column names of a dbt mart."""
    rows = built.query(
        "select column_name from information_schema.columns "
        f"where table_schema = 'marts' and table_name = '{table}' order by ordinal_position"
    )
    return [name for (name,) in rows]


def test_baseline_equals_the_dbt_marts_on_every_column(built: Workspace, tmp_path: Path) -> None:
    run = run_baseline(built, tmp_path, "--as-of-date", BUILD_VARS["as_of_date"])

    assert run.returncode == 0, run.output
    result = run.result
    assert result["equal"] is True
    assert result["as_of_date"] == BUILD_VARS["as_of_date"]
    assert result["seconds"] > 0
    for table in TABLES:
        (dbt_rows,) = built.query(f"select count(*) from marts.{table}")[0]
        assert dbt_rows > 1000
        assert result["rows"][table] == {"baseline": dbt_rows, "dbt": dbt_rows, "unmatched": 0}
        # Every column of the mart was compared, and none differs.
        assert list(result["differences"][table]) == mart_columns(built, table)
        assert set(result["differences"][table].values()) == {0}
        assert result["column_mismatches"][table] == {"missing": [], "extra": [], "types": {}}


def test_as_of_date_defaults_to_the_warehouse_build(built: Workspace, tmp_path: Path) -> None:
    run = run_baseline(built, tmp_path)

    assert run.returncode == 0, run.output
    assert run.result["as_of_date"] == BUILD_VARS["as_of_date"]
    assert run.result["equal"] is True


def test_another_as_of_date_is_reported_as_different(built: Workspace, tmp_path: Path) -> None:
    run = run_baseline(built, tmp_path, "--as-of-date", "2026-05-31")

    assert run.returncode == 1, run.output
    result = run.result
    assert result["equal"] is False
    features = result["differences"]["customer_features"]
    rfm = result["differences"]["customer_rfm"]
    (customers, with_tenure, buyers) = built.query(
        "select count(*), count(tenure_days), count(last_order_at) from marts.customer_features"
    )[0]
    # Every row carries as_of_date; tenure and recency move by 30 days wherever they are known.
    assert features["as_of_date"] == rfm["as_of_date"] == customers
    assert features["tenure_days"] == with_tenure
    assert features["recency_days"] == rfm["recency_days"] == buyers
    # The same customers either way: only values differ.
    assert features["customer_key"] == rfm["customer_key"] == 0
    assert features["order_count"] == features["net_revenue"] == 0


def nudged_script(tmp_path: Path, factor: str) -> Path:
    """The baseline script with customer_features.mobile_session_share multiplied by factor."""
    original = SCRIPT.read_text(encoding="utf-8")
    target = "    joined.mobile_session_share,\n"
    assert original.count(target) == 1
    path = tmp_path / "nudged.sql"
    path.write_text(
        original.replace(
            target, f"    joined.mobile_session_share * {factor} as mobile_session_share,\n"
        ),
        encoding="utf-8",
    )
    return path


def test_doubles_are_compared_within_a_relative_tolerance(built: Workspace, tmp_path: Path) -> None:
    (nonzero_shares,) = built.query(
        "select count(*) from marts.customer_features where mobile_session_share <> 0"
    )[0]
    assert nonzero_shares > 0

    within = run_baseline(built, tmp_path, "--script", str(nudged_script(tmp_path, "(1 + 1e-12)")))
    assert within.returncode == 0, within.output
    assert within.result["equal"] is True

    beyond = run_baseline(built, tmp_path, "--script", str(nudged_script(tmp_path, "(1 + 1e-6)")))
    assert beyond.returncode == 1, beyond.output
    differing = {
        column: rows
        for column, rows in beyond.result["differences"]["customer_features"].items()
        if rows
    }
    assert differing == {"mobile_session_share": nonzero_shares}
    assert set(beyond.result["differences"]["customer_rfm"].values()) == {0}
