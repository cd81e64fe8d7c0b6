"""Write-audit-publish: only an audited build reaches the serving file, atomically."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from cli_process import mf_rows, run_segwarehouse
from segwarehouse import publish, serving_file
from segwarehouse.publish import GateConfig, RefreshLocked, refresh, refresh_lock

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def work(built, tmp_path: Path) -> Path:
    """A private copy of the built warehouse to audit and publish."""
    copy = tmp_path / "work.duckdb"
    shutil.copyfile(built.warehouse, copy)
    return copy


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return tmp_path / "serve" / "serving.duckdb"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log(serving: Path) -> list[dict]:
    path = serving.with_name(serving.name + ".runs.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _refresh(work: Path, serving: Path, **kwargs) -> tuple[int, publish.RunRecord]:
    return refresh(work, serving, None, kwargs.pop("build", None), log=lambda _: None, **kwargs)


def test_audited_build_is_published_with_a_run_record(work: Path, serving: Path):
    code, record = _refresh(work, serving)
    assert code == 0, record.failures
    with duckdb.connect(str(serving), read_only=True) as con:
        schemas = {
            row[0] for row in con.execute("select schema_name from duckdb_tables()").fetchall()
        }
        counts = {
            f"marts.{name}": con.execute(f"select count(*) from marts.{name}").fetchone()[0]
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
        runs = con.execute(
            "select run_id, status, rows_per_mart, checks_passed, checks_failed "
            "from audit.publish_runs"
        ).fetchall()
        dq = con.execute(
            "select count(*) from audit.data_quality_results where run_id = ?", [record.run_id]
        ).fetchone()[0]
    assert schemas == {"marts", "audit"}  # no raw PII-bearing staging/intermediate copies
    assert counts == record.rows_per_mart and counts["marts.dim_customers"] > 1000
    assert runs[0][:2] == (record.run_id, "published")
    assert json.loads(runs[0][2]) == counts
    assert runs[0][3] > 50 and runs[0][4] == 0
    assert dq == runs[0][3]
    assert _log(serving)[-1]["status"] == "published"
    assert (
        not list(serving.parent.glob(".*.tmp"))
        and not serving.with_name("serving.duckdb.lock").exists()
    )


def test_failed_audit_leaves_serving_byte_identical(work: Path, serving: Path):
    assert _refresh(work, serving)[0] == 0
    before = _sha256(serving)
    with duckdb.connect(str(work)) as con:
        con.execute("update marts.customer_rfm set r_score = 9 where r_score = 5")
    code, record = _refresh(work, serving)
    assert code == publish.EXIT_QUALITY
    assert any("marts.customer_rfm" in line and "r_score" in line for line in record.failures)
    assert _sha256(serving) == before
    assert [run["status"] for run in _log(serving)] == ["published", "failed_audit"]


def test_quarantine_rate_above_threshold_fails(work: Path, serving: Path):
    """The refresh reads the limit table dbt build enforces (seed source_quarantine_limits)."""
    with duckdb.connect(str(work)) as con:
        con.execute(
            "update reference.source_quarantine_limits set max_quarantine_rate = 0.0001 "
            "where source_name = 'orders'"
        )
    code, record = _refresh(work, serving)
    assert code == publish.EXIT_QUALITY
    assert any(
        line.startswith("volume: orders quarantine rate")
        and "limit from reference.source_quarantine_limits" in line
        for line in record.failures
    ), record.failures
    assert not serving.exists()


def test_row_count_drop_against_published_version_fails(work: Path, serving: Path):
    assert _refresh(work, serving)[0] == 0
    before = _sha256(serving)
    with duckdb.connect(str(work)) as con:
        con.execute("delete from marts.customer_rfm where hash(customer_key) % 20 <> 0")
    code, record = _refresh(work, serving)
    assert code == publish.EXIT_QUALITY
    assert any("volume: marts.customer_rfm has" in line for line in record.failures)
    assert _sha256(serving) == before


def test_failing_dbt_build_is_not_audited_or_published(work: Path, serving: Path):
    code, record = _refresh(work, serving, build=lambda: ["test.segments.unique_x"])
    assert (code, record.status) == (publish.EXIT_QUALITY, "failed_audit")
    code, record = _refresh(work, serving, build=lambda: ["model.segments.dim_customers"])
    assert (code, record.status) == (publish.EXIT_ERROR, "error")
    assert not serving.exists()


def test_second_refresh_is_refused_while_one_holds_the_lock(work: Path, serving: Path):
    with refresh_lock(serving) as lock:
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(RefreshLocked, match="another refresh"):
            _refresh(work, serving)
        env = {"SEGMENTS_WAREHOUSE": str(work), "SEGMENTS_SERVING": str(serving)}
        completed = run_segwarehouse("refresh", "--skip-build", env=env)
        assert completed.returncode == publish.EXIT_LOCKED, completed.stderr
        assert f"another refresh (pid {os.getpid()}) holds {lock}" in completed.stderr
    assert not serving.exists()


def test_lock_of_a_dead_process_is_taken_over(work: Path, serving: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock = serving.with_name(serving.name + ".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(dead.stdout.strip())
    assert _refresh(work, serving)[0] == 0
    assert not lock.exists()


READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb
    path, stop = sys.argv[1], sys.argv[2]
    reads, deadline, seen = 0, time.monotonic() + 300, set()
    while not os.path.exists(stop) and time.monotonic() < deadline:
        with duckdb.connect(path, read_only=True) as con:
            run_id, rows = con.execute(
                "select run_id, rows_per_mart from audit.publish_runs "
                "order by finished_at desc, started_at desc limit 1").fetchone()
            expected = json.loads(rows)
            for table, count in expected.items():
                actual = con.execute(f"select count(*) from {table}").fetchone()[0]
                assert actual == count, (run_id, table, actual, count)
            seen.add(run_id)
        reads += 1
    print(json.dumps({"reads": reads, "versions": len(seen)}))
    """
)


def test_reader_during_publish_sees_one_complete_version(work: Path, serving: Path, tmp_path):
    smaller = tmp_path / "smaller.duckdb"
    shutil.copyfile(work, smaller)
    with duckdb.connect(str(smaller)) as con:
        con.execute("delete from marts.segment_membership where hash(customer_key) % 2 = 0")
        con.execute("delete from marts.customer_rfm where hash(customer_key) % 3 = 0")
    publish.publish(work, serving, publish.RunRecord("v0", None, "2026-01-01T00:00:00"))
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(serving), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    published = 0
    while reader.poll() is None and published < 6:  # the reader runs until told to stop
        for index, source in enumerate((smaller, work)):
            record = publish.RunRecord(f"v{published}-{index}", None, "2026-01-01T00:00:00")
            with duckdb.connect(str(source), read_only=True) as con:
                record.rows_per_mart = publish._table_counts(con, ("marts",))
            publish.publish(source, serving, record)
            published += 1
    stop.touch()
    out, err = reader.communicate()
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert published >= 4 and result["reads"] >= 10
    assert result["versions"] >= 2, result


@pytest.mark.slow
# --- source volume against the last published run; per-source quarantine limits ---------------


def _reconciled_warehouse(
    path: Path,
    rows: dict[str, tuple[int, int]],
    limits=None,
    volume: list[tuple[str, str, float | None, float | None]] | None = None,
    marts: dict[str, int] | None = None,
) -> Path:
    """A warehouse holding audit.source_reconciliation (source -> (raw, quarantined); staged =
    raw - quarantined), and optionally the quarantine limits, the volume_limits seed table
    (kind, name, max_growth, max_shrink) and marts of the given row counts."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema audit")
        con.execute(
            "create table audit.source_reconciliation (source_name varchar, raw_rows bigint, "
            "staged_rows bigint, quarantined_rows bigint, quarantine_rate double)"
        )
        for source, (raw, quarantined) in rows.items():
            con.execute(
                "insert into audit.source_reconciliation values (?, ?, ?, ?, ?)",
                [source, raw, raw - quarantined, quarantined, quarantined / raw if raw else None],
            )
        con.execute("create schema reference")
        if limits is not None:
            con.execute(
                "create table reference.source_quarantine_limits "
                "(source_name varchar, max_quarantine_rate double, reason varchar)"
            )
            for source, limit in limits.items():
                con.execute(
                    "insert into reference.source_quarantine_limits values (?, ?, 'test')",
                    [source, limit],
                )
        if volume is not None:
            con.execute(
                "create table reference.volume_limits (kind varchar, name varchar, "
                "max_growth double, max_shrink double, reason varchar)"
            )
            for row in volume:
                con.execute("insert into reference.volume_limits values (?, ?, ?, ?, 'test')", row)
        con.execute("create schema marts")
        for mart, count in (marts or {}).items():
            con.execute(f"create table marts.{mart} as select range as id from range({count})")
    return path


# What the seed says for everything without its own row.
DEFAULTS = [("source", "default", 10.0, 0.9), ("mart", "default", 10.0, 0.9)]
SEED_DEFAULT = "of row {kind},default in seeds/quality/volume_limits.csv (add a row {kind},{name}"


def test_source_spike_and_truncation_against_last_publish(tmp_path: Path):
    old = {
        "orders": (1000, 0),
        "web_events": (1000, 0),
        "products": (200, 0),
        "consents": (100, 0),
        "campaign_events": (1000, 0),
        "new": (0, 0),
    }
    new = {
        "orders": (9_999, 0),
        "web_events": (10_000, 0),
        "products": (20, 0),
        "consents": (11, 0),
        "campaign_events": (1_001, 0),
        "new": (50, 0),
    }
    served = _reconciled_warehouse(tmp_path / "served.duckdb", old)
    work = _reconciled_warehouse(tmp_path / "work.duckdb", new, limits={}, volume=DEFAULTS)
    notes: list[str] = []
    failures = publish.volume_checks(work, served, GateConfig(), notes)
    products = SEED_DEFAULT.format(kind="source", name="products")
    web = SEED_DEFAULT.format(kind="source", name="web_events")
    assert failures == [
        f"volume: products has {n} {count} rows, 200 in the last published run (90% fewer, at "
        f"or above 90%: a truncated export?); limit: max_shrink {products} to change it for "
        "products alone)"
        for n, count in ((20, "raw"), (20, "staged"))
    ] + [
        f"volume: web_events has 10,000 {count} rows, 1,000 in the last published run (10.0x, "
        f"at or above 10x: a duplicated or appended export?); limit: max_growth {web} to "
        "change it for web_events alone)"
        for count in ("raw", "staged")
    ]  # the bounds fail (10x exactly, 90% fewer exactly); just inside them passes (9.999x,
    # 89% fewer); a source that had 0 rows is not compared
    assert notes == []
    strict = GateConfig(max_source_growth=2, max_source_drop=0.5)
    overridden = publish.volume_checks(work, served, strict)
    assert len(overridden) == 8
    assert overridden[0].endswith("limit: --max-source-drop given for this run")
    first: list[str] = []
    assert publish.volume_checks(work, tmp_path / "absent.duckdb", GateConfig(), first) == []
    assert first == ["volume: no published run yet, source row counts not compared"]


def test_per_source_and_per_mart_limits_from_the_seed(tmp_path: Path):
    """A row of the seed beats the defaults row, tighter or looser, for sources and marts;
    the failure names the row to change. The old code had one global pair for every source
    and no growth limit on marts at all."""
    old_marts = {"dim_customers": 1000, "segment_membership": 1000, "fct_orders": 100}
    new_marts = {"dim_customers": 2000, "segment_membership": 10_000, "fct_orders": 400}
    volume = [
        *DEFAULTS,
        ("source", "crm_customers", 3.0, 0.5),
        ("source", "erasure_requests", None, 0.9),
        ("mart", "dim_customers", 2.0, 0.5),
        ("mart", "fct_orders", 50.0, None),
    ]
    old = {"crm_customers": (1000, 0), "erasure_requests": (2, 0), "orders": (100, 0)}
    new = {"crm_customers": (2999, 0), "erasure_requests": (400, 0), "orders": (55, 0)}
    served = _reconciled_warehouse(tmp_path / "s.duckdb", old, marts=old_marts)
    work = _reconciled_warehouse(
        tmp_path / "w.duckdb", new, limits={}, volume=volume, marts=new_marts
    )
    assert publish.volume_checks(work, served, GateConfig()) == [
        "volume: marts.dim_customers has 2,000 rows, 1,000 in the last published run (2.0x, "
        "at or above 2x: a fan-out join?); limit: max_growth of row mart,dim_customers in "
        "seeds/quality/volume_limits.csv",
        "volume: marts.segment_membership has 10,000 rows, 1,000 in the last published run "
        "(10.0x, at or above 10x: a fan-out join?); limit: max_growth "
        + SEED_DEFAULT.format(kind="mart", name="segment_membership")
        + " to change it for segment_membership alone)",
    ]  # crm_customers 2.999x under its 3x; erasure_requests without a growth limit; orders
    # 45% fewer under the 90% default; fct_orders 4x under its looser 50x
    shrunk = _reconciled_warehouse(
        tmp_path / "x.duckdb",
        {"crm_customers": (500, 0), "erasure_requests": (2, 0), "orders": (100, 0)},
        limits={},
        volume=volume,
        marts={"dim_customers": 501, "segment_membership": 1000, "fct_orders": 0},
    )
    failures = publish.volume_checks(shrunk, served, GateConfig())
    assert [line.split(" (")[0] for line in failures] == [
        "volume: crm_customers has 500 raw rows, 1,000 in the last published run",
        "volume: crm_customers has 500 staged rows, 1,000 in the last published run",
    ]  # 50% fewer customers fails its 0.5 (inclusive); dim_customers 49.9% fewer passes;
    # fct_orders lost every row but has no shrink limit
    assert failures[0].endswith(
        "(50% fewer, at or above 50%: a truncated export?); limit: max_shrink of row "
        "source,crm_customers in seeds/quality/volume_limits.csv"
    )


def test_a_work_warehouse_without_the_volume_seed_uses_built_in_limits(tmp_path: Path):
    served = _reconciled_warehouse(tmp_path / "s.duckdb", {"orders": (100, 0)})
    work = _reconciled_warehouse(tmp_path / "w.duckdb", {"orders": (1000, 0)}, limits={})
    with duckdb.connect(str(work)) as con:
        con.execute("drop schema reference cascade")
    notes: list[str] = []
    failures = publish.volume_checks(work, served, GateConfig(), notes)
    assert len(failures) == 2 and all(
        line.endswith("limit: the built-in default (no reference.volume_limits)")
        for line in failures
    )
    assert (
        "volume: no reference.volume_limits in the work warehouse, every source and mart "
        "limited to the built-in 10x growth and 90% shrink"
    ) in notes


def test_the_volume_seed_sets_a_tenfold_jump_and_a_90_percent_loss_to_fail():
    """The shipped seed: defaults rows for both kinds at 10x / 90%, inclusive."""

    rows = {
        (row["kind"], row["name"]): row
        for row in csv.DictReader((PROJECT_DIR / "seeds/quality/volume_limits.csv").open())
    }
    for kind in ("source", "mart"):
        assert float(rows[(kind, "default")]["max_growth"]) == 10
        assert float(rows[(kind, "default")]["max_shrink"]) == 0.9
    for row in rows.values():
        assert row["reason"].strip()
        assert not row["max_growth"] or 1 < float(row["max_growth"]) <= 10
        assert not row["max_shrink"] or 0 < float(row["max_shrink"]) <= 1


def test_per_source_quarantine_limit_falls_back_to_the_global_one(tmp_path: Path):
    rows = {"orders": (1000, 40), "web_events": (1000, 30), "consents": (100, 6)}
    work = _reconciled_warehouse(tmp_path / "w.duckdb", rows, limits={"web_events": 0.02})
    failures = publish.volume_checks(work, tmp_path / "absent.duckdb", GateConfig())
    assert failures == [
        "volume: consents quarantine rate 6.00% (6 of 100 raw rows) above 5.00% (limit from "
        "--max-quarantine-rate); see audit.quarantined_rows in the work warehouse for the reasons",
        "volume: web_events quarantine rate 3.00% (30 of 1,000 raw rows) above 2.00% (limit from "
        "reference.source_quarantine_limits); see audit.quarantined_rows in the work warehouse "
        "for the reasons",
    ]
    no_seed = _reconciled_warehouse(tmp_path / "n.duckdb", rows)
    notes: list[str] = []
    assert len(publish.volume_checks(no_seed, tmp_path / "absent.duckdb", GateConfig(), notes)) == 1
    assert notes[0].startswith("volume: no reference.source_quarantine_limits")


def test_pii_audit_tables_are_withheld_from_serving(work: Path, serving: Path):
    code, record = _refresh(work, serving)
    assert code == 0, record.failures
    with duckdb.connect(str(work), read_only=True) as con:
        in_work = {
            r[0]
            for r in con.execute(
                "select schema_name || '.' || table_name from duckdb_tables()"
            ).fetchall()
        }
    with duckdb.connect(str(serving), read_only=True) as con:
        served = {
            r[0]
            for r in con.execute(
                "select schema_name || '.' || table_name from duckdb_tables()"
            ).fetchall()
        }
    assert set(publish.WITHHELD_TABLES) <= in_work
    assert not set(publish.WITHHELD_TABLES) & served
    assert "audit.source_reconciliation" in served


# --- refresh --skip-build publishes only a passing build --------------------------------------


@pytest.mark.parametrize(
    ("failures", "says"),
    [
        (["test.segments.unique_dim_customers_customer_key"], "had failing dbt tests"),
        (["model.segments.dim_customers"], "failed"),
    ],
)
def test_skip_build_is_refused_after_a_failed_build(
    work: Path, serving: Path, failures: list[str], says: str
):
    code, failed = _refresh(work, serving, build=lambda: failures)
    assert code in (publish.EXIT_QUALITY, publish.EXIT_ERROR)
    assert publish.read_state(work)["build"]["status"] in ("tests_failed", "failed")
    code, record = _refresh(work, serving)  # --skip-build
    assert (code, record.status) == (publish.EXIT_QUALITY, "refused")
    assert record.failures == [
        f"the last build of {work} (run {failed.run_id}) {says} [{failures[0]}]: --skip-build "
        "publishes only a passing build; run `segwarehouse refresh` without it"
    ]
    assert not serving.exists()


def test_skip_build_is_refused_after_a_build_that_never_finished(work: Path, serving: Path):
    publish.record_build(work, "killed-run", "running")  # what a kill -9 mid-build leaves
    lines: list[str] = []
    code, record = refresh(work, serving, None, None, log=lines.append)
    assert (code, record.status) == (publish.EXIT_QUALITY, "refused")
    assert "(run killed-run) did not finish (killed?)" in record.failures[0]
    assert lines == [f"refused: {record.failures[0]}"]
    assert not serving.exists()


def test_skip_build_after_a_passing_build_is_audited_and_published(work: Path, serving: Path):
    code, built_run = _refresh(work, serving, build=lambda: [])
    assert code == publish.EXIT_OK, built_run.failures
    assert publish.read_state(work)["published"]["run_id"] == built_run.run_id
    code, record = _refresh(work, serving)
    assert code == publish.EXIT_OK, record.failures
    assert publish.published_run_id(serving) == record.run_id


def _quarantine_counts_file(path: Path, counts: dict[tuple[str, str], int] | None) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema audit")
        if counts is not None:
            con.execute(
                "create table audit.quarantine_reason_counts (source_name varchar, "
                "quarantine_reason varchar, quarantined_rows bigint)"
            )
            for (source, reason), count in counts.items():
                con.execute(
                    "insert into audit.quarantine_reason_counts values (?, ?, ?)",
                    [source, reason, count],
                )
    return path


def test_quarantine_summary_names_the_reasons_that_grew(tmp_path: Path):
    """60 orders in a new date format: the day it happens, the run's last lines say so."""
    before = {("orders", "unparseable_order_ts"): 2, ("web_events", "future_timestamp"): 5}
    now = {
        ("orders", "unparseable_order_ts"): 62,
        ("web_events", "future_timestamp"): 4,
        ("consents", "unknown_channel"): 1,
    }
    served = _quarantine_counts_file(tmp_path / "served.duckdb", before)
    work = _quarantine_counts_file(tmp_path / "work.duckdb", now)
    assert publish.quarantine_summary(work, served) == [
        "quarantine: consents unknown_channel 1 rows (0 in the last published run); "
        "see audit.quarantined_rows",
        "quarantine: orders unparseable_order_ts 62 rows (2 in the last published run); "
        "see audit.quarantined_rows",
    ]
    steady = _quarantine_counts_file(tmp_path / "steady.duckdb", before)
    assert publish.quarantine_summary(steady, served) == [
        "quarantine: no reason grew since the last published run (7 rows in all)"
    ]
    first = publish.quarantine_summary(work, tmp_path / "absent.duckdb")
    assert first[0] == (
        "quarantine: consents unknown_channel 1 rows (no published count to compare with); "
        "see audit.quarantined_rows"
    )
    assert len(first) == 3
    old_serving = _quarantine_counts_file(tmp_path / "old.duckdb", None)
    assert len(publish.quarantine_summary(work, old_serving)) == 3


# --- the serving file for every reader: DuckDB 1.4, comments, primary keys, mf query ----------

# What BI drivers bundle: the DuckDB long-term-support line, its CLI, and SQLAlchemy with
# duckdb-engine (Superset's route; Superset 4 runs SQLAlchemy 1.4).
LTS_PACKAGES = ("duckdb==1.4.*", "duckdb-cli==1.4.*", "duckdb-engine==0.17.0", "SQLAlchemy==1.4.*")
# pip's words for an index it cannot reach or that lacks the package
_NO_INDEX = ("No matching distribution", "Could not find a version", "Failed to establish")

LTS_READER = textwrap.dedent(
    """
    import json, sys
    import duckdb
    from sqlalchemy import create_engine, inspect, text
    path = sys.argv[1]
    out = {"duckdb": duckdb.__version__}
    with duckdb.connect(path, read_only=True) as con:
        out["table_comment"] = con.execute(
            "select comment from duckdb_tables() "
            "where schema_name = 'marts' and table_name = 'dim_customers'").fetchone()[0]
        out["column_comments"] = dict(con.execute(
            "select column_name, comment from duckdb_columns() "
            "where schema_name = 'marts' and table_name = 'dim_customers'").fetchall())
        out["primary_key"] = con.execute(
            "select constraint_column_names from duckdb_constraints() "
            "where schema_name = 'marts' and table_name = 'dim_customers' "
            "and constraint_type = 'PRIMARY KEY'").fetchall()
        out["customers"] = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    engine = create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    with engine.connect() as conn:
        out["sqlalchemy_customers"] = conn.execute(
            text("select count(*) from marts.dim_customers")).scalar()
        inspector = inspect(conn)
        out["sqlalchemy_tables"] = inspector.get_table_names(schema="marts")
        out["sqlalchemy_comment"] = inspector.get_table_comment("dim_customers", schema="marts")
        out["sqlalchemy_columns"] = {
            c["name"]: c.get("comment") for c in inspector.get_columns("dim_customers", "marts")}
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="session")
def lts_venv(request: pytest.FixtureRequest) -> Path:
    """A throw-away venv with LTS_PACKAGES from PyPI, kept in pytest's cache between runs;
    skipped (with pip's reason) only when pip cannot reach the index."""
    key = hashlib.sha256(" ".join(LTS_PACKAGES).encode()).hexdigest()[:12]
    venv = Path(request.config.cache.mkdir(f"duckdb-lts-venv-{key}"))
    python = venv / "bin" / "python"
    ready = venv / "ready"
    if ready.is_file():
        return venv
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    completed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *LTS_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        if any(words in output for words in _NO_INDEX):
            pytest.skip(f"pip cannot install {LTS_PACKAGES} from the index: {output[-300:]}")
        raise AssertionError(output)
    ready.write_text(" ".join(LTS_PACKAGES))
    return venv


def _comments(path: Path) -> dict[tuple[str, str, str], str]:
    """Column comments of the marts' tables (views are not published: they would read the
    work warehouse's other schemas)."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select c.schema_name, c.table_name, c.column_name, c.comment "
            "from duckdb_columns() as c inner join duckdb_tables() as t "
            "on c.database_name = t.database_name and c.schema_name = t.schema_name "
            "and c.table_name = t.table_name "
            "where c.database_name = current_database() and c.schema_name = 'marts' "
            "and c.comment is not null"
        ).fetchall()
    return {(schema, table, column): comment for schema, table, column, comment in rows}


def test_serving_file_carries_comments_and_grain_keys_in_the_lts_storage_version(
    work: Path, serving: Path
):
    """CREATE TABLE AS dropped every comment and left no key; DuckDB 2.0's format was
    unreadable to 1.x clients."""
    code, record = _refresh(work, serving)
    assert code == 0, record.failures
    published = _comments(serving)
    assert len(published) > 300 and published == _comments(work)
    with duckdb.connect(str(serving), read_only=True) as con:
        [(tags,)] = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchall()
        keys = dict(
            con.execute(
                "select table_name, constraint_column_names from duckdb_constraints() "
                "where constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        )
        table_comments = dict(
            con.execute("select table_name, comment from duckdb_tables()").fetchall()
        )
    assert tags["storage_version"].startswith(serving_file.SERVING_STORAGE_VERSION)
    assert keys["dim_customers"] == ["customer_key"]  # column tested unique
    assert keys["source_reconciliation"] == ["source_name"]  # audit too
    assert len(keys) >= 15 and "segment_membership" not in keys
    # a grain of several columns is documented, not indexed (the index outweighs the table)
    assert table_comments["segment_membership"].endswith(
        "Grain: one row per (customer_key, segment_id), tested unique by dbt."
    )
    assert table_comments["fct_orders"] and "Grain" not in table_comments["fct_orders"]
    assert not [note for note in record.notes if note.startswith("serving:")]


def test_a_grain_the_data_breaks_is_published_without_its_key(tmp_path: Path):
    work = tmp_path / "w.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("create schema marts; create schema audit")
        con.execute("create table marts.dim_customers (customer_key varchar, n integer)")
        con.execute("insert into marts.dim_customers values ('a', 1), ('a', 2), (null, 3)")
        con.execute("comment on column marts.dim_customers.n is 'it''s documented'")
        con.execute("create table marts.fct_orders as select 'o1' as order_id")
    serving = tmp_path / "s.duckdb"
    record = publish.RunRecord("r", None, "2026-07-01T00:00:00")
    publish.publish(work, serving, record)
    assert record.notes == [
        "serving: marts.dim_customers published without its primary key ('customer_key',): "
        "1 rows with a null key column"
    ]
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == 3
        assert con.execute(
            "select table_name, constraint_column_names from duckdb_constraints() "
            "where constraint_type = 'PRIMARY KEY'"
        ).fetchall() == [("fct_orders", ["order_id"])]
    assert _comments(serving) == {("marts", "dim_customers", "n"): "it's documented"}


def test_duckdb_1_4_reads_the_serving_file_with_its_docs(work: Path, serving: Path, lts_venv):
    """docs/bi.md's recipes on the oldest supported reader: Python, SQLAlchemy +
    duckdb-engine, and the DuckDB CLI, all read-only."""
    publish.publish(work, serving, publish.RunRecord("r", None, "2026-07-01T00:00:00"))
    completed = subprocess.run(
        [str(lts_venv / "bin" / "python"), "-c", LTS_READER, str(serving)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    got = json.loads(completed.stdout)
    expected_columns = {
        column: comment
        for (_, table, column), comment in _comments(work).items()
        if table == "dim_customers"
    }
    with duckdb.connect(str(work), read_only=True) as con:
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
        table_comment = con.execute(
            "select comment from duckdb_tables() where table_name = 'dim_customers'"
        ).fetchone()[0]
    assert got["duckdb"].startswith("1.4.")
    assert got["table_comment"] == table_comment and table_comment
    assert {k: v for k, v in got["column_comments"].items() if v} == expected_columns
    assert got["primary_key"] == [[["customer_key"]]]
    assert got["customers"] == got["sqlalchemy_customers"] == customers
    assert "dim_customers" in got["sqlalchemy_tables"]
    assert got["sqlalchemy_comment"]["text"] == table_comment
    assert got["sqlalchemy_columns"]["customer_key"] == expected_columns["customer_key"]
    cli = subprocess.run(
        [
            str(lts_venv / "bin" / "duckdb"),
            "-readonly",
            "-json",
            str(serving),
            "-c",
            "select count(*) as customers from marts.dim_customers",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == [{"customers": customers}]


def test_mf_query_on_the_serving_file(built, work: Path, serving: Path, tmp_path: Path):
    """docs/bi.md: `DBT_TARGET=serving mf query` reads the serving file read-only, under the
    catalog name the semantic manifest was built with (SEGMENTS_WAREHOUSE=<serving> alone
    fails: DuckDB names the catalog after the file)."""
    publish.publish(work, serving, publish.RunRecord("r", None, "2026-07-01"))
    project = tmp_path / "mf"
    (project / "target").mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    shutil.copy(built.scratch / "target" / "semantic_manifest.json", project / "target")
    env = {
        "SEGMENTS_WAREHOUSE": str(built.warehouse),
        "SEGMENTS_SERVING": str(serving),
        "DBT_TARGET": "serving",
    }
    query = ["--metrics", "revenue,orders", "--group-by", "customer__rfm_segment"]
    rows = mf_rows(project, env, *query)
    got = {row["customer__rfm_segment"]: int(float(row["orders"])) for row in rows}
    with duckdb.connect(str(serving), read_only=True) as con:
        expected = dict(
            con.execute(
                "select r.rfm_segment, count(*) filter (where o.is_completed) "
                "from marts.fct_orders as o inner join marts.customer_rfm as r using "
                "(customer_key) group by 1"
            ).fetchall()
        )
    assert got == expected and sum(expected.values()) > 1000
