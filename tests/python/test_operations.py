"""Operations that survive people: kill -9 of a refresh at its build, a BI reader holding the
serving file read-write, leftovers of interrupted publishes, an orphaned dbt on the work
warehouse, two refreshes on one work warehouse. Each failure is one line naming the pid; the
next refresh recovers without manual steps. A fake dbt ($SEGMENTS_DBT) stands in for the
build where the test is about the process, not the models; one test kills a real dbt's parent.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, Workspace
from segwarehouse import locks, publish
from segwarehouse.activation import export_audiences
from segwarehouse.cli import main

SEGWAREHOUSE = Path(sys.executable).parent / "segwarehouse"

# Stands in for dbt: "hang" holds the work warehouse read-write (as a running dbt build does)
# and sleeps; "ok" builds nothing and succeeds.
FAKE_DBT = textwrap.dedent(
    """\
    #!{python}
    import os, sys, time
    import duckdb
    if os.environ.get("FAKE_DBT_MODE", "ok") == "hang":
        con = duckdb.connect(os.environ["SEGMENTS_WAREHOUSE"])
        with open(os.environ["FAKE_DBT_PIDFILE"], "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(120)
    sys.exit(0)
    """
)

HOLD_READ_WRITE = textwrap.dedent(
    """
    import sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("select count(*) from audit.publish_runs").fetchall()
    print("holding", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def work(built: Workspace, tmp_path: Path) -> Path:
    copy = tmp_path / "work" / "work.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(built.warehouse, copy)
    return copy


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return tmp_path / "serve" / "serving.duckdb"


@pytest.fixture
def fake_dbt(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "dbt"
    path.parent.mkdir()
    path.write_text(FAKE_DBT.format(python=sys.executable))
    path.chmod(0o755)
    return path


def _env(built: Workspace, work: Path, serving: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(built.raw_dir),
        "SEGMENTS_WAREHOUSE": str(work),
        "SEGMENTS_SERVING": str(serving),
        "DBT_TARGET_PATH": str(work.parent / "target"),
        **extra,
    }


def _segwarehouse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEGWAREHOUSE), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _pid_in(path: Path, seconds: float = 90) -> int:
    _wait_for(lambda: path.is_file() and path.read_text().strip().isdigit(), seconds, str(path))
    return int(path.read_text())


def _hold_read_write(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_WRITE, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def _first_publish(work: Path, serving: Path) -> str:
    """A published version to start from (no audit: these tests are about the swap)."""
    publish.publish(work, serving, publish.RunRecord("first", None, "2026-07-01T00:00:00"))
    return "first"


def test_kill_9_at_the_build_stage_and_the_next_refresh_recovers(
    built: Workspace, work: Path, serving: Path, fake_dbt: Path, tmp_path: Path
) -> None:
    pidfile = tmp_path / "dbt.pid"
    env = _env(built, work, serving, SEGMENTS_DBT=str(fake_dbt), FAKE_DBT_PIDFILE=str(pidfile))
    refresh = subprocess.Popen(
        [str(SEGWAREHOUSE), "refresh"],
        cwd=PROJECT_DIR,
        env={**env, "FAKE_DBT_MODE": "hang"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dbt_pid = _pid_in(pidfile)
    assert locks.alive(dbt_pid) and publish.read_state(work)["build"]["status"] == "running"
    refresh.send_signal(signal.SIGKILL)
    refresh.wait()
    # The dbt child dies with its parent (PR_SET_PDEATHSIG): no orphan keeps the work file.
    _wait_for(lambda: not locks.alive(dbt_pid), 15, f"the dbt child {dbt_pid} to die")
    serving_lock = serving.with_name("serving.duckdb.lock")
    work_lock = work.with_name("work.duckdb.lock")
    assert serving_lock.read_text() == work_lock.read_text() == str(refresh.pid)

    recovered = _segwarehouse(env, "refresh")  # no manual step in between
    output = recovered.stdout + recovered.stderr
    assert recovered.returncode == 0, output
    assert f"stale lock {serving_lock} of a killed refresh (pid {refresh.pid}" in output
    assert f"stale lock {work_lock} of a killed refresh (pid {refresh.pid}" in output
    assert f"published {serving}" in output and "Traceback" not in output
    assert not serving_lock.exists() and not work_lock.exists()
    assert publish.read_state(work)["build"]["status"] == "passed"


def _run_until(
    command: list[str], env: dict[str, str], reached: Callable[[str], bool]
) -> subprocess.Popen[str]:
    """`command` started from the project root, its output read up to the first line that
    `reached` accepts (the stage the test interrupts); still running."""
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if reached(line):
            break
    return process


def _kill_9(process: subprocess.Popen[str]) -> None:
    """SIGKILL, as the OOM killer or a power cut would stop it: no handler runs."""
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.stdout is not None
    process.stdout.close()


def test_kill_9_at_the_audit_stage_and_the_next_refresh_recovers(
    built: Workspace, work: Path, serving: Path
) -> None:
    env = {**_env(built, work, serving), "PYTHONUNBUFFERED": "1"}
    publish.record_build(work, "built-run", "passed")  # the build stage finished
    refresh = _run_until(
        [str(SEGWAREHOUSE), "refresh", "--skip-build"],
        env,
        lambda line: line.rstrip().endswith(": data-quality checks"),
    )
    _kill_9(refresh)
    assert serving.with_name("serving.duckdb.lock").read_text() == str(refresh.pid)
    assert not serving.exists()
    recovered = _segwarehouse(env, "refresh", "--skip-build")
    output = recovered.stdout + recovered.stderr
    assert recovered.returncode == 0, output
    assert output.count(f"of a killed refresh (pid {refresh.pid}, no longer running)") == 2
    assert f"published {serving}" in output


def test_a_real_dbt_child_dies_with_its_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from segwarehouse.dbt_runner import run_dbt; "
            "run_dbt(Path(sys.argv[1]), ['parse', '--target-path', sys.argv[2], "
            "'--log-path', sys.argv[2]])",
            str(PROJECT_DIR),
            str(tmp_path / "target"),
        ],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    _wait_for(lambda: children.read_text().strip() != "", 30, "dbt to start")
    [dbt_pid] = [int(pid) for pid in children.read_text().split()]
    assert locks.is_dbt(dbt_pid), locks.describe_process(dbt_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    _wait_for(lambda: not locks.alive(dbt_pid), 15, f"dbt {dbt_pid} to die with its parent")


def test_a_read_write_reader_does_not_block_the_publish(work: Path, serving: Path) -> None:
    _first_publish(work, serving)
    reader = _hold_read_write(serving)
    try:
        with pytest.raises(duckdb.IOException, match="Could not set lock"):
            duckdb.connect(str(serving), read_only=True)  # what blocked every refresh before
        code, record = publish.refresh(work, serving, None, None, log=lambda _: None)
        assert code == publish.EXIT_OK, record.failures
        assert f"held read-write by pid {reader.pid}" in " ".join(record.notes)
        assert reader.poll() is None  # the reader keeps its (old) version open
        assert publish.published_run_id(serving) == record.run_id
        with duckdb.connect(str(serving), read_only=True) as con:
            runs = con.execute("select run_id from audit.publish_runs order by 1").fetchall()
        assert sorted([("first",), (record.run_id,)]) == runs  # history read from a copy
    finally:
        reader.kill()
        reader.wait()
    assert not list(serving.parent.glob(".*.tmp*"))


def test_leftovers_of_interrupted_publishes_are_cleaned(work: Path, serving: Path) -> None:
    serving.parent.mkdir(parents=True)
    killed = serving.parent / ".serving.duckdb.0123abcd.tmp"
    disk_full = serving.parent / ".serving.duckdb.4567cdef.tmp.wal"
    other = serving.parent / ".other.duckdb.89ab.tmp"
    for path in (killed, disk_full, other):
        path.write_bytes(b"partial")
    lines: list[str] = []
    code, record = publish.refresh(
        work, serving, None, lambda: ["test.segments.unique_x"], log=lines.append
    )
    assert code == publish.EXIT_QUALITY  # the build failed; the cleaning happened first
    assert not killed.exists() and not disk_full.exists() and other.exists()
    assert lines[0] == (
        "cleaned 2 leftover file(s) of an interrupted publish: "
        ".serving.duckdb.0123abcd.tmp, .serving.duckdb.4567cdef.tmp.wal"
    )
    assert lines[0] in record.notes


def test_an_orphaned_dbt_on_the_work_file_is_one_line_with_its_pid(
    built: Workspace, work: Path, serving: Path, fake_dbt: Path, tmp_path: Path
) -> None:
    pidfile = tmp_path / "orphan.pid"
    env = _env(built, work, serving, FAKE_DBT_MODE="hang", FAKE_DBT_PIDFILE=str(pidfile))
    orphan = subprocess.Popen([str(fake_dbt), "build"], env=env)
    try:
        pid = _pid_in(pidfile)
        completed = _segwarehouse(env, "refresh")
        line = _one_line(completed.stderr)
        assert completed.returncode == publish.EXIT_LOCKED
        assert line.startswith(f"segwarehouse refresh: {work} is locked by pid {pid} (")
        assert "an orphaned dbt of a killed refresh" in line and f"kill {pid}" in line
    finally:
        orphan.kill()
        orphan.wait()
    assert not serving.exists()


def test_a_second_refresh_on_the_same_work_file_is_one_line(
    built: Workspace, work: Path, serving: Path, tmp_path: Path
) -> None:
    with publish.work_lock(work) as lock:
        other_serving = tmp_path / "other" / "serving.duckdb"
        completed = _segwarehouse(_env(built, work, other_serving), "refresh", "--skip-build")
        line = _one_line(completed.stderr)
        assert completed.returncode == publish.EXIT_LOCKED
        assert line == (
            f"segwarehouse refresh: another refresh (pid {os.getpid()}) holds {lock}; wait for "
            "it to finish (remove the file only if that process is gone)"
        )
    assert not other_serving.exists()


def test_export_from_a_serving_file_held_read_write_is_one_line(
    work: Path, serving: Path, tmp_path: Path
) -> None:
    _first_publish(work, serving)
    reader = _hold_read_write(serving)
    try:
        with pytest.raises(locks.BusyFile) as busy:
            export_audiences(serving, tmp_path / "exports")
    finally:
        reader.kill()
        reader.wait()
    message = str(busy.value)
    assert busy.value.pid == reader.pid and "\n" not in message
    assert message.startswith(f"{serving} is locked by pid {reader.pid} (")
    assert "readers should connect read-only" in message


def test_summary_of_a_work_file_being_built_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        con.execute("create schema audit; create table audit.publish_runs (run_id varchar)")
    holder = _hold_read_write(work)
    try:
        monkeypatch.chdir(PROJECT_DIR)
        monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(work))
        assert main(["summary"]) == publish.EXIT_LOCKED
    finally:
        holder.kill()
        holder.wait()
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"segwarehouse summary: {work} is locked by pid {holder.pid} (")


# --- kill -9 in the publish copy, disk full during the publish -------------------------------

# The real `segwarehouse refresh --skip-build` in a child process, with the publish's copy
# step wrapped: after the real copy into the staged file it says so and waits to be killed,
# its DuckDB connection on the staged file still open.
PAUSE_AFTER_COPY = textwrap.dedent(
    """
    import sys, time
    from segwarehouse import cli, publish
    copy = publish._copy_published_schemas
    def copy_then_wait(con, work):
        copy(con, work)
        print("copied", flush=True)
        time.sleep(120)
    publish._copy_published_schemas = copy_then_wait
    sys.exit(cli.main(["refresh", "--skip-build", "--docs-dir", sys.argv[1]]))
    """
)


def test_kill_9_in_the_publish_copy_and_the_next_refresh_recovers(
    built: Workspace, work: Path, serving: Path, tmp_path: Path
) -> None:
    # generated landing data: the first version is marked synthetic too, as the CLI marks it
    first = publish.RunRecord("first", None, "2026-07-01T00:00:00", synthetic=True)
    publish.publish(work, serving, first)
    before = _sha256(serving)
    publish.record_build(work, "built-run", "passed")
    env = {**_env(built, work, serving), "PYTHONUNBUFFERED": "1"}
    refresh = _run_until(
        [sys.executable, "-c", PAUSE_AFTER_COPY, str(tmp_path / "docs")],
        env,
        lambda line: line.strip() == "copied",
    )
    leftovers = sorted(path.name for path in serving.parent.glob(".serving.duckdb.*.tmp*"))
    _kill_9(refresh)
    # the staged file (and its WAL once anything was committed), as a killed copy leaves them
    assert leftovers and leftovers[0].endswith(".tmp"), leftovers
    assert leftovers[1:] in ([], [leftovers[0] + ".wal"]), leftovers
    assert _sha256(serving) == before  # the old version, intact and readable
    assert publish.published_run_id(serving) == "first"

    recovered = _segwarehouse(env, "refresh", "--skip-build", "--docs-dir", str(tmp_path / "d2"))
    output = recovered.stdout + recovered.stderr
    assert recovered.returncode == 0, output
    assert output.count(f"of a killed refresh (pid {refresh.pid}, no longer running)") == 2
    cleaned = f"cleaned {len(leftovers)} leftover file(s) of an interrupted publish: "
    assert cleaned + ", ".join(leftovers) in output
    assert f"published {serving}" in output and "Traceback" not in output
    assert not list(serving.parent.glob(".*.tmp*"))
    with duckdb.connect(str(serving), read_only=True) as con:
        runs = con.execute("select run_id from audit.publish_runs order by finished_at").fetchall()
    assert runs[0] == ("first",) and len(runs) == 2


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 48 MB tmpfs mounted for the test (None when `mount` is not permitted here)."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def _fill(disk: Path, leave_bytes: int) -> Path:
    ballast = disk / "ballast"
    with ballast.open("wb") as handle:
        handle.write(b"\0" * max(shutil.disk_usage(disk).free - leave_bytes, 0))
    return ballast


def test_disk_full_during_publish_is_one_line_and_the_serving_file_stands(
    work: Path,
    tmp_path: Path,
    small_disk: Path | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """ENOSPC for real on a small tmpfs holding the serving file; where `mount` is not
    permitted, the staged-file writer raises ENOSPC after writing part of the file instead."""
    serving = (small_disk or tmp_path / "serve") / "serving.duckdb"
    _first_publish(work, serving)
    before = _sha256(serving)
    publish.record_build(work, "built-run", "passed")
    if small_disk is not None:
        ballast = _fill(small_disk, leave_bytes=2 * 2**20)
    else:
        write = publish._write_staged

        def write_until_full(staged: Path, *args: object) -> None:
            staged.write_bytes(b"\0" * 2**20)
            _wal(staged).write_bytes(b"\0" * 2**10)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staged))

        monkeypatch.setattr(publish, "_write_staged", write_until_full)
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(work))
    monkeypatch.setenv("SEGMENTS_SERVING", str(serving))
    docs = ["--docs-dir", str(tmp_path / "docs")]

    assert main(["refresh", "--skip-build", *docs]) == publish.EXIT_ERROR
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    [line] = [line for line in out.out.splitlines() if "no space left" in line.lower()]
    assert line.startswith(f"publish failed: no space left on device in {serving.parent}")
    assert f"{serving} left as it was" in line and "free space there" in line
    assert _sha256(serving) == before and publish.published_run_id(serving) == "first"
    assert not list(serving.parent.glob(".*.tmp*"))  # the partial file is removed at once
    assert _log(serving)[-1]["status"] == "error"

    # A leftover of a publish that died before it could clean up, then space again: the next
    # refresh removes the leftover and publishes.
    leftover = serving.parent / ".serving.duckdb.deadbeef.tmp.wal"
    if small_disk is not None:
        ballast.unlink()
    else:
        monkeypatch.setattr(publish, "_write_staged", write)
    leftover.write_bytes(b"partial")
    assert main(["refresh", "--skip-build", *docs]) == publish.EXIT_OK
    out = capsys.readouterr().out
    assert f"cleaned 1 leftover file(s) of an interrupted publish: {leftover.name}" in out
    assert publish.published_run_id(serving) not in (None, "first")
    assert not list(serving.parent.glob(".*.tmp*"))


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _log(serving: Path) -> list[dict]:
    path = serving.with_name(serving.name + ".runs.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]
