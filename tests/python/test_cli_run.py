"""`segwarehouse run` (what `make run` calls) end to end on a small landing folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cli_process import run_segwarehouse
from conftest import PROJECT_DIR, Workspace
from segwarehouse import publish
from segwarehouse.cli import main, pipeline
from segwarehouse.settings import SYNTHETIC_MANIFEST, landing_files, synthetic_files


def test_run_builds_and_prints_the_summary(generated: Path, workspace: Workspace) -> None:
    """`run` is `refresh` (dbt build in a child process, audit, publish) plus the summary:
    this is the suite's one real build through that path."""
    env = {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(generated / "raw"),
        "SEGMENTS_WAREHOUSE": str(workspace.warehouse),
        "SEGMENTS_SERVING": str(workspace.scratch / "serving.duckdb"),
    }
    segwarehouse = Path(sys.executable).parent / "segwarehouse"
    completed = subprocess.run(
        [str(segwarehouse), "run", "--as-of-date", "2026-06-30"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "Traceback" not in output
    assert f"warehouse: {workspace.warehouse}" in output
    assert "marts.dim_customers" in output
    assert "staging reconciliation" in output
    # run goes through the write-audit-publish gate: checks ran, the serving file was swapped in
    serving = workspace.scratch / "serving.duckdb"
    assert f"published {serving}" in output
    assert serving.is_file()
    runs = (workspace.scratch / "serving.duckdb.runs.jsonl").read_text().splitlines()
    assert len(runs) == 1 and '"status": "published"' in runs[0]
    # generated data is marked synthetic in the run record and in the serving file
    assert json.loads(runs[0])["synthetic"] is True and "synthetic demo data" in output
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select synthetic from audit.publish_runs").fetchall() == [(True,)]
        assert con.execute("select count(*) from marts.customer_rfm").fetchone()[0] > 1000


def test_run_and_refresh_never_generate_into_a_folder_the_user_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """An empty or mistyped SEGMENTS_RAW_DIR is an error naming it, with or without --demo:
    nothing is generated there, nothing is built or published."""
    monkeypatch.chdir(PROJECT_DIR)
    empty, typo = tmp_path / "exports", tmp_path / "exprots"
    empty.mkdir()
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(tmp_path / "work.duckdb"))
    monkeypatch.setenv("SEGMENTS_SERVING", str(tmp_path / "serving.duckdb"))
    for folder, state in ((empty, "holds no landing file"), (typo, "does not exist")):
        monkeypatch.setenv("SEGMENTS_RAW_DIR", str(folder))
        for argv in (["run"], ["run", "--demo"], ["refresh"]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert f"landing folder {folder} {state}" in err, (argv, err)
            assert len(err.strip().splitlines()) == 1
    assert list(empty.iterdir()) == [] and not typo.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exports"]


def test_demo_data_only_with_demo_and_only_into_the_repository_data_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` passes --demo; only then, and only when the landing folder is the
    repository's own data/raw, `run` generates (it would build next: stubbed here)."""
    assert "$(BIN)/segwarehouse run --demo" in (PROJECT_DIR / "Makefile").read_text()
    generated_into: list[Path] = []
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setattr(pipeline, "landing_files", lambda _raw: [])
    monkeypatch.setattr(pipeline, "generate_command", lambda args: generated_into.append(args.out))
    monkeypatch.setattr(pipeline, "refresh_command", lambda _args: 0)
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(tmp_path / "absent.duckdb"))
    monkeypatch.delenv("SEGMENTS_RAW_DIR", raising=False)
    assert main(["run"]) == 0 and generated_into == []
    assert main(["run", "--demo"]) == 0
    assert generated_into == [PROJECT_DIR / "data" / "raw"]
    monkeypatch.setenv("SEGMENTS_RAW_DIR", str(tmp_path / "raw"))
    assert main(["run", "--demo"]) == 0 and len(generated_into) == 1


def test_generated_files_are_marked_synthetic_until_replaced(
    generated: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(generated / "raw", raw)  # copy2 keeps size and mtime
    manifest = json.loads((raw / SYNTHETIC_MANIFEST).read_text())
    assert manifest["synthetic"] is True
    assert synthetic_files(raw) == landing_files(raw) and len(landing_files(raw)) == 8
    (raw / "orders.csv").write_text((raw / "orders.csv").read_text())  # a real export lands
    assert raw / "orders.csv" not in synthetic_files(raw) and len(synthetic_files(raw)) == 7
    for path in landing_files(raw):
        path.write_bytes(path.read_bytes() + b"\n")
    assert synthetic_files(raw) == []
    assert synthetic_files(tmp_path / "unmarked") == []


def test_synthetic_data_is_refused_over_a_serving_file_holding_real_data(
    built: Workspace, tmp_path: Path
) -> None:
    work, serving = tmp_path / "work.duckdb", tmp_path / "serving.duckdb"
    shutil.copyfile(built.warehouse, work)
    publish.publish(work, serving, publish.RunRecord("real-run", None, "2026-07-01T00:00:00"))
    before = serving.read_bytes()
    env = {
        "SEGMENTS_RAW_DIR": str(built.raw_dir),  # generated: carries the synthetic manifest
        "SEGMENTS_WAREHOUSE": str(work),
        "SEGMENTS_SERVING": str(serving),
    }
    completed = run_segwarehouse("refresh", "--skip-build", env=env)
    assert completed.returncode == publish.EXIT_QUALITY, completed.stdout + completed.stderr
    [refused] = [line for line in completed.stdout.splitlines() if line.startswith("refused")]
    assert refused == (
        f"refused: the landing data is generated demo data and {serving} holds real data "
        "(run real-run): not publishing synthetic over it; point SEGMENTS_SERVING at another "
        "file for the demo (a file published before runs were marked counts as real: delete "
        "an old demo one), or land real files"
    )
    assert serving.read_bytes() == before
    record = json.loads(serving.with_name("serving.duckdb.runs.jsonl").read_text())
    assert (record["status"], record["synthetic"]) == ("refused", True)
    # Over a serving file holding demo data (or none), demo data is published: the demo works.
    publish.publish(work, serving, publish.RunRecord("demo", None, "2026-07-01", synthetic=True))
    assert publish.read_published(serving).holds_real_data is False
