"""Source freshness: the sources YAML thresholds, `dbt source freshness`, and the refresh gate.

The unit tests feed `decide` and `read_results` hand-made results; the dbt tests run the real
`dbt source freshness` over a copy of the generated landing folder whose orders file is made
three days old, through publish.refresh as `segwarehouse refresh` calls it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from segwarehouse import cli, freshness, publish
from segwarehouse.cli import pipeline
from segwarehouse.freshness import EXIT_OK, EXIT_STALE, SourceAge, decide, format_age, read_results
from segwarehouse.generator.api import write_synthetic_manifest

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOUR = 3600.0


def _age(source: str, status: str, hours: float, required: bool = True) -> SourceAge:
    loaded = "2026-07-01T00:00:00+00:00" if hours < 1e6 else "0001-01-01T00:00:00+00:00"
    return SourceAge(source, status, hours * HOUR, loaded, 50.0, 26.0, required)


def _record() -> publish.RunRecord:
    return publish.RunRecord("r1", None, "2026-07-01T00:00:00")


def test_a_stale_required_source_refuses_with_one_line_naming_it_and_its_age():
    record, lines = _record(), []
    ages = [_age("commerce.orders", "error", 75.5), _age("crm.crm_customers", "pass", 2)]
    assert decide(ages, record, lines.append, allow_stale=False) == EXIT_STALE
    assert record.status == "stale"
    assert record.failures == [
        "freshness: commerce.orders (required) is 3d 3h old (newest landing file modified "
        "2026-07-01T00:00:00+00:00; error after 50 h)"
    ]
    hint = ": land a fresh delivery, or rerun with --allow-stale"
    assert lines == [f"refused: {record.failures[0]}{hint}"]


def test_allow_stale_publishes_and_keeps_the_line_as_a_note():
    record, lines = _record(), []
    ages = [_age("commerce.orders", "error", 75.5)]
    assert decide(ages, record, lines.append, allow_stale=True) == EXIT_OK
    assert record.failures == [] and record.status == "running"
    assert record.notes == [
        "freshness: commerce.orders (required) is 3d 3h old (newest landing file modified "
        "2026-07-01T00:00:00+00:00; error after 50 h): published anyway (--allow-stale)"
    ]


def test_optional_sources_only_warn_and_an_absent_one_is_not_stale():
    record, lines = _record(), []
    ages = [
        _age("web.web_events", "error", 80, required=False),
        _age("crm.crm_customers", "warn", 30),
        _age("privacy.erasure_requests", "error", 1e9, required=False),  # no landing file
    ]
    assert decide(ages, record, lines.append, allow_stale=False) == EXIT_OK
    assert record.failures == []
    assert lines == [
        "freshness: web.web_events (optional) is 3d 8h old (newest landing file modified "
        "2026-07-01T00:00:00+00:00; error after 50 h)",
        "freshness: crm.crm_customers (required) is 1d 6h old (newest landing file modified "
        "2026-07-01T00:00:00+00:00; warn after 26 h)",
    ]
    assert record.notes == lines


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(59, "0m"), (40 * 60, "40m"), (5.2 * HOUR, "5h 12m"), (49 * HOUR, "2d 1h")],
)
def test_format_age(seconds, text):
    assert format_age(seconds) == text


def test_read_results_takes_required_from_the_manifest_and_hours_from_the_criteria(tmp_path):
    (tmp_path / "sources.json").write_text(
        json.dumps(
            {
                "results": [
                    {
                        "unique_id": "source.segments.commerce.orders",
                        "status": "error",
                        "max_loaded_at": "2026-07-01T00:00:00+00:00",
                        "max_loaded_at_time_ago_in_s": 3 * 24 * HOUR,
                        "criteria": {
                            "warn_after": {"count": 1, "period": "day"},
                            "error_after": {"count": 90, "period": "minute"},
                        },
                    },
                    {
                        "unique_id": "source.segments.web.web_events",
                        "status": "pass",
                        "max_loaded_at": "2026-07-01T00:00:00+00:00",
                        "max_loaded_at_time_ago_in_s": 60.0,
                        "criteria": {"warn_after": {"count": None}, "error_after": {}},
                    },
                ]
            }
        )
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "sources": {
                    "source.segments.commerce.orders": {"meta": {"required_file": True}},
                    "source.segments.web.web_events": {"meta": {"required_file": False}},
                }
            }
        )
    )
    orders, web = read_results(tmp_path)
    assert (orders.source, orders.required, orders.is_stale) == ("commerce.orders", True, True)
    assert (orders.warn_after_hours, orders.error_after_hours) == (24.0, 1.5)
    assert (web.source, web.required, web.error_after_hours) == ("web.web_events", False, None)


def test_refresh_passes_allow_stale_and_skip_build_checks_nothing(monkeypatch, tmp_path):
    gates: list[tuple] = []
    calls: list[dict] = []

    def fake_gate(project_dir, work, dbt_vars, allow_stale):
        gates.append((work, allow_stale))
        return "the gate"

    def fake_refresh(work, serving, as_of_date, build, **kwargs):
        calls.append(kwargs)
        return EXIT_STALE, _record()

    monkeypatch.setattr(freshness, "gate", fake_gate)
    monkeypatch.setattr(publish, "refresh", fake_refresh)
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(tmp_path / "work.duckdb"))
    monkeypatch.setenv("SEGMENTS_SERVING", str(tmp_path / "serving.duckdb"))
    monkeypatch.setattr(pipeline, "_require_landing", lambda _settings: None)
    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setenv("SEGMENTS_RAW_DIR", str(raw))
    assert cli.main(["refresh", "--allow-stale"]) == EXIT_STALE
    assert cli.main(["refresh"]) == EXIT_STALE
    assert cli.main(["refresh", "--skip-build"]) == EXIT_STALE
    # Generated demo data (marked synthetic) has no feed that could stop: never refused.
    (raw / "orders.csv").write_text("order_id\n")
    write_synthetic_manifest(raw, {"orders": raw / "orders.csv"}, 1, 1, date(2026, 6, 30))
    assert cli.main(["refresh"]) == EXIT_STALE
    work = tmp_path / "work.duckdb"
    assert gates == [(work, True), (work, False), (work, True)]
    assert [call["freshness"] for call in calls] == ["the gate", "the gate", None, "the gate"]
    assert [call["synthetic"] for call in calls] == [False, False, False, True]
    assert cli._parser().parse_args(["run", "--allow-stale"]).allow_stale is True


# --- the real dbt source freshness ------------------------------------------------------------


@pytest.fixture
def stale_landing(generated: Path, tmp_path: Path, monkeypatch) -> Path:
    """A copy of the generated landing folder whose orders file is three days old."""
    raw = tmp_path / "raw"
    shutil.copytree(generated / "raw", raw)
    now = time.time()
    for path in raw.iterdir():
        os.utime(path, (now, now))
    old = now - 3 * 24 * HOUR - 600
    os.utime(raw / "orders.csv", (old, old))
    monkeypatch.setenv("SEGMENTS_RAW_DIR", str(raw))
    return raw


def test_dbt_source_freshness_reads_the_landing_files_modification_time(
    stale_landing, dbt_project, tmp_path
):
    ages = freshness.check(dbt_project, tmp_path / "work.duckdb", tmp_path / "target")
    by_source = {age.source: age for age in ages}
    orders = by_source["commerce.orders"]
    assert orders.status == "error" and orders.required and orders.is_stale
    assert 72 * HOUR < orders.age_seconds < 73 * HOUR
    assert (orders.warn_after_hours, orders.error_after_hours) == (26.0, 50.0)  # the vars
    assert by_source["crm.crm_customers"].status == "pass"
    assert by_source["crm.crm_customers"].age_seconds < HOUR
    assert set(by_source) >= {"commerce.order_items", "web.web_events", "privacy.consents"}


def test_refresh_refuses_stale_orders_and_publishes_with_allow_stale(
    stale_landing, built, dbt_project, tmp_path
):
    work = tmp_path / "work.duckdb"
    shutil.copyfile(built.warehouse, work)
    serving = tmp_path / "serving.duckdb"
    target = tmp_path / "target"
    lines: list[str] = []
    stale_gate = freshness.gate(dbt_project, work, target=target)
    code, record = publish.refresh(
        work, serving, None, None, log=lines.append, freshness=stale_gate
    )
    assert code == EXIT_STALE and record.status == "stale"
    assert not serving.exists()  # nothing published
    [refused] = [line for line in lines if line.startswith("refused:")]
    assert refused.startswith("refused: freshness: commerce.orders (required) is 3d 0h old")
    assert record.failures == [refused.removeprefix("refused: ").split(": land a fresh")[0]]

    allowed = freshness.gate(dbt_project, work, allow_stale=True, target=target)
    code, record = publish.refresh(work, serving, None, None, log=lines.append, freshness=allowed)
    assert code == publish.EXIT_OK, record.failures
    assert serving.is_file()
    assert any(
        note.startswith("freshness: commerce.orders (required) is 3d 0h old")
        and note.endswith("published anyway (--allow-stale)")
        for note in record.notes
    )
