"""Shared fixtures: run dbt against throw-away landing folders and warehouses."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import dbt_zygote
from segwarehouse.dbt_runner import (
    DBT_ENV,
    DbtInvocation,
    die_with_parent,
    parse_state_kept,
    saved_parse_state,
)
from segwarehouse.generator import generate
from segwarehouse.settings import PSEUDONYM_KEY_ENV, write_pseudonym_key

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The generated data set the build tests share: people, seed, last day of history.
GENERATED_CUSTOMERS = 3_000
GENERATED_SEED = 11
END_DATE = date(2026, 6, 30)
BUILD_VARS = {"as_of_date": END_DATE.isoformat(), "segments__loaded_at": "2026-07-01 00:00:00"}
# The month ends the shared chain of builds is built at, in order (see `three_date_chain`).
SUCCESSIVE_DATES = ("2026-04-30", "2026-05-31", "2026-06-30")
# dbt build arguments that skip data and unit tests: for builds whose test is about something
# else (the session's `built` runs every data test once on the same data).
NO_DATA_TESTS = ("--exclude-resource-type", "test", "unit_test")
# dbt build arguments that skip dbt's unit tests only: they check the models' SQL on fixed
# inputs, whatever the landing data, so the session's `built` runs them once and builds that
# need the data tests (other data, other dates) leave them out.
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
# The session's folder of saved dbt parse states (`dbt_parse_cache`;
# dbt_runner.saved_parse_state names one per set of vars and settings).
_PARSE_CACHE: list[Path] = []
# dbt's log file level in the suite's dbt runs. At dbt's default (debug) a small build spends
# about 12% of its CPU writing every query to logs/dbt.log; info keeps one line a node. The
# session's `built` and the tests that read debug lines set debug again (DEBUG_FILE_LOG).
LOG_LEVEL_FILE = "DBT_LOG_LEVEL_FILE"
DEBUG_FILE_LOG = {LOG_LEVEL_FILE: "debug"}
# dbt's threads in the suite's dbt runs (profiles.yml). Two test workers already keep the two
# cores busy, and a second dbt thread in each build only adds contention for the GIL: one
# thread costs about 14% less CPU per small build. The session's `built`, which the other
# worker may be waiting for, keeps two.
DBT_THREADS = "SEGMENTS_DBT_THREADS"


@dataclass
class DbtRun:
    """Result of one dbt subprocess."""

    returncode: int
    output: str


@dataclass
class Workspace:
    """A landing folder and a warehouse of one test, and a way to run dbt on them."""

    raw_dir: Path
    warehouse: Path
    scratch: Path

    def invocation(
        self, dbt_vars: dict | None = None, env: dict[str, str] | None = None
    ) -> DbtInvocation:
        """dbt on this workspace's landing folder and warehouse, target and logs in scratch,
        run from the warehouse's folder (so the profile names it `warehouse.duckdb`, the same
        for every workspace, and a saved parse state fits them all)."""
        return DbtInvocation(
            PROJECT_DIR,
            raw_dir=self.raw_dir,
            warehouse=self.warehouse,
            target_path=self.scratch / "target",
            log_path=self.scratch / "logs",
            dbt_vars=dbt_vars,
            extra_env=env or {},
            working_dir=self.warehouse.parent,
        )

    def dbt(
        self, *args: str, dbt_vars: dict | None = None, env: dict[str, str] | None = None
    ) -> DbtRun:
        """Run dbt with this workspace's landing folder and warehouse (and `env` on top of
        this process's environment). A first run in the workspace starts from the saved
        parse state for the same vars, if any."""
        invocation = self.invocation(dbt_vars, env)
        saved = saved_parse_state(_PARSE_CACHE[0], invocation) if _PARSE_CACHE else None
        with parse_state_kept(invocation, saved):  # both workers share the cache
            return run_dbt_invocation(invocation, args)

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query against the warehouse (read-only)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


# The worker's dbt zygote (tests/python/dbt_zygote.py), started at its first dbt invocation:
# [process, socket path]. SEGMENTS_TEST_FORK_DBT=0 runs every dbt as a plain subprocess.
FORK_DBT_ENV = "SEGMENTS_TEST_FORK_DBT"
_ZYGOTE: list[Any] = []


def run_dbt_invocation(invocation: DbtInvocation, args: tuple[str, ...]) -> DbtRun:
    """dbt as `invocation.run` runs it, forked from the worker's zygote when there is one."""
    environment = invocation.environment()
    zygote = None if DBT_ENV in environment else _zygote()
    if zygote is None:
        completed = invocation.run(*args, capture=True)
        return DbtRun(completed.returncode, completed.stdout + completed.stderr)
    command = invocation.command(*args)
    returncode, out, err = dbt_zygote.run(zygote, command[1:], environment, invocation.cwd)
    return DbtRun(returncode, out + err)


def _zygote() -> Path | None:
    """The socket of this worker's zygote, started and waited for on first use; None when
    switched off or when it failed to start (dbt then runs as a subprocess)."""
    if os.environ.get(FORK_DBT_ENV, "1") == "0":
        return None
    if not _ZYGOTE:
        folder = Path(tempfile.mkdtemp(prefix="dbt-zygote-"))
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(dbt_zygote.__file__)),
                str(folder / "socket"),
                str(PROJECT_DIR),
            ],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
        ready = process.stdout is not None and process.stdout.readline().strip()
        _ZYGOTE.extend([process, folder / "socket" if ready == dbt_zygote.READY else None])
    process, socket_path = _ZYGOTE
    return socket_path if process.poll() is None else None


def skip_without_spark(module: str) -> None:
    """Skip the test module named `module`, saying which and why, unless the optional extra
    `.[spark]` (pyspark, dbt-spark) and a Java runtime are installed: `make test-spark` runs
    the Spark checks in their own venv, `make test` skips them (one line per module)."""
    for package, missing in (
        ("pyspark", "pyspark is not installed (pip install -e '.[spark]')"),
        ("dbt.adapters.spark", "dbt-spark is not installed (.[spark] extra)"),
    ):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{module}: {missing}", allow_module_level=True)
    if shutil.which("java") is None:
        pytest.skip(
            f"{module}: no Java runtime on PATH: local Spark needs Java 17", allow_module_level=True
        )


def frame(source: Workspace | Path, sql: str) -> pd.DataFrame:
    """A query's result as a DataFrame (read-only): a workspace's warehouse or a database file."""
    warehouse = source.warehouse if isinstance(source, Workspace) else source
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def workspace_at(root: Path) -> Workspace:
    """The workspace whose folder is root (its layout; nothing is created)."""
    return Workspace(raw_dir=root / "raw", warehouse=root / "warehouse.duckdb", scratch=root)


def make_workspace(root: Path) -> Workspace:
    """A fresh workspace under root."""
    workspace = workspace_at(root)
    workspace.raw_dir.mkdir(parents=True)
    (root / "spill").mkdir()
    return workspace


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run dbt (they request `dbt_project`, directly or through a fixture) are the
    `dbt` tier: `make test-fast` deselects them (`-m "not dbt"`).

    Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) a test that uses a module
    fixture stays on one worker with the rest of its module, so the fixture is built once:
    without an explicit `xdist_group` mark it gets its module's name as group. Other tests are
    spread one by one. Every test that reads the session's `three_date_chain` is in one group,
    so that chain is built once. Runs before xdist's own hook, which reads the marks."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "dbt_project" in fixtures:
            item.add_marker(pytest.mark.dbt)
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if "three_date_chain" in fixtures:
            item.add_marker(pytest.mark.xdist_group("three_date_chain"))
        elif uses_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadgroup`, stop when pytest-xdist's group suffix did not reach the test
    ids (pytest 9.2 reads ids from a field xdist 3.8 does not write): the groups would be
    ignored without a word, and every worker would build the shared chain again."""
    # Only xdist's workers have the option (set from `--dist`); a plain run has no groups.
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist's xdist_group did not reach {len(lost)} test ids (first: {lost[0]}): "
            "this pytest and pytest-xdist do not work together; install the pinned versions "
            "(constraints.txt)."
        )


def uses_module_fixture(item: pytest.Item) -> bool:
    """Whether the test requests (directly or not) a fixture of module scope."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The test session's pseudonym key (a fresh random one, in tmp): the one place the suite
    gets its key. Set as $SEGMENTS_PSEUDONYM_KEY_FILE for the whole session, so every dbt
    child inherits it: Workspace.dbt, and the refresh / bench / doctor launchers through
    settings.pseudonym_key_env."""
    root = shared_by_workers(  # one key for both workers: they share `built`
        tmp_path_factory, "pseudonym", lambda root: write_pseudonym_key(root / "pseudonym.key")
    )
    path = root / "pseudonym.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_ENV, str(path))
        yield path


@pytest.fixture(scope="session", autouse=True)
def dbt_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dbt's default target and log folders for the session (DBT_TARGET_PATH, DBT_LOG_PATH):
    commands that do not pass their own (refresh, run_dbt) never share the repository's
    target/ with a parallel test worker. dbt runs one thread (DBT_THREADS)."""
    root = tmp_path_factory.mktemp("dbt_scratch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "target"))
        patch.setenv("DBT_LOG_PATH", str(root / "logs"))
        patch.setenv(LOG_LEVEL_FILE, "info")
        patch.setenv(DBT_THREADS, "1")
        yield root


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's folder of saved dbt parse states (dbt_runner.saved_parse_state), shared by the
    workers: a full parse of this project costs about 7 s of CPU, a partial one with
    nothing changed about 2.5 s (1.5 s forked from the warmed zygote), and the suite starts
    dbt over a hundred times, mostly with
    the same vars."""
    root = shared_by_workers(tmp_path_factory, "dbt_parse_cache", lambda path: path.mkdir())
    _PARSE_CACHE[:] = [root]
    yield root
    _PARSE_CACHE.clear()


@pytest.fixture(scope="session", autouse=True)
def dbt_zygote_stopped() -> Iterator[None]:
    """Stops the worker's dbt zygote, if one was started (`_zygote`), at the session's end."""
    yield
    if _ZYGOTE:
        process, socket_path = _ZYGOTE
        process.terminate()
        process.wait(timeout=30)
        if socket_path is not None:
            shutil.rmtree(socket_path.parent, ignore_errors=True)
        _ZYGOTE.clear()


@pytest.fixture(scope="session")
def dbt_project() -> Path:
    """The dbt project's root. Request it in every fixture or test that runs dbt (or a
    command that does): that is what puts the test in the `dbt` tier."""
    return PROJECT_DIR


@pytest.fixture
def workspace(tmp_path: Path, dbt_project: Path) -> Workspace:
    """A fresh, empty landing folder and warehouse for one test."""
    return make_workspace(tmp_path)


def linked_workspace(root: Path, raw_dir: Path) -> Workspace:
    """A workspace whose landing folder is `raw_dir` (linked, not copied)."""
    workspace = make_workspace(root)
    workspace.raw_dir.rmdir()
    workspace.raw_dir.symlink_to(raw_dir)
    return workspace


def copied_workspace(source: Workspace, root: Path) -> Workspace:
    """A private copy of `source`'s warehouse under root, on the same landing folder (linked):
    for tests that run dbt on, or write to, a built warehouse they must not change."""
    workspace = linked_workspace(root, source.raw_dir.resolve())
    shutil.copyfile(source.warehouse, workspace.warehouse)
    return workspace


@dataclass
class BaselineRun:
    """Exit code, parsed JSON result and output of one floor-runner subprocess."""

    returncode: int
    result: dict[str, Any]
    output: str


def run_floor(runner: Path, built: Workspace, tmp_path: Path, *extra: str) -> BaselineRun:
    """A benchmarks/*_baseline.py runner in a child process against the built warehouse
    (attached read-only); its JSON result, which it also prints."""
    json_path = tmp_path / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(runner),
            "--warehouse",
            str(built.warehouse),
            "--database",
            str(tmp_path / "baseline.duckdb"),
            "--json",
            str(json_path),
            *extra,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert json_path.is_file(), output
    result = json.loads(json_path.read_text(encoding="utf-8"))
    assert json.loads(completed.stdout) == result
    return BaselineRun(completed.returncode, result, output)


def customer_keys(customer_sks: pd.Series) -> pd.Series:
    """The customer_key of each customer_sk, computed in Python: 'cus_' + the 64 bits as 16
    lower-case hex digits (the inverse of macro customer_sk_from_key, checked independently)."""
    return customer_sks.map(lambda sk: f"cus_{int(sk):016x}")


def shared_by_workers(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]
) -> Path:
    """`root/name`, made once per test session by `make(root/name)`, whichever worker asks
    first: under pytest-xdist every worker runs the session fixtures again, and the other
    worker waits on a lock for the first one's result instead of building the same thing
    beside it. A failure is recorded, so the waiting worker fails with the same message
    rather than trying again. Only for things tests read and never change."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path, failed = root / name, root / f"{name}.failed"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            pytest.fail(failed.read_text(encoding="utf-8"), pytrace=False)
        if not (root / f"{name}.made").exists():
            try:
                make(path)
            except BaseException as error:
                failed.write_text(f"{name} failed in another worker: {error}", encoding="utf-8")
                raise
            (root / f"{name}.made").touch()
    return path


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated landing folder (raw/) and its ground truth (truth/), one for all
    workers (the base tables record landing files by path, so copies of `built` must see
    the same path)."""

    def make(root: Path) -> None:
        generate(GENERATED_CUSTOMERS, GENERATED_SEED, root / "raw", root / "truth", END_DATE)

    return shared_by_workers(tmp_path_factory, "generated", make)


@pytest.fixture(scope="session")
def built(
    generated: Path, tmp_path_factory: pytest.TempPathFactory, dbt_project: Path
) -> Workspace:
    """The whole project built (dbt build: seeds, models, data tests and the suite's one run
    of the unit tests) on the generated data, once for all workers. Read it, or copy it:
    never run dbt on it or open its warehouse for writing."""

    def make(root: Path) -> None:
        workspace = linked_workspace(root, generated / "raw")
        # debug: test_pseudonym scans this log, every query included, for the key.
        run = workspace.dbt("build", dbt_vars=BUILD_VARS, env={**DEBUG_FILE_LOG, DBT_THREADS: "2"})
        assert run.returncode == 0, run.output
        results = json.loads((root / "target" / "run_results.json").read_text())
        assert any(r["unique_id"].startswith("unit_test.") for r in results["results"])

    return workspace_at(shared_by_workers(tmp_path_factory, "built", make))


@dataclass
class ChainBuild:
    """One warehouse built at SUCCESSIVE_DATES in order, and a read-only copy of it as it was
    right after each date's build."""

    workspace: Workspace
    after: dict[str, Path]


@pytest.fixture(scope="session")
def three_date_chain(
    generated: Path, tmp_path_factory: pytest.TempPathFactory, dbt_project: Path
) -> ChainBuild:
    """The generated data built at three month ends into one warehouse: what a scheduled job
    leaves behind (membership history, health, drift). Shared by the segment and health tests
    (one xdist group: pytest_collection_modifyitems). Data tests run at the last date only:
    they check every recorded date. Tests that rerun dbt on `workspace` must leave it as
    they found it (reruns at the last date are idempotent; refused runs change nothing) and
    compare against `after`, never against the live warehouse."""
    workspace = linked_workspace(tmp_path_factory.mktemp("chain"), generated / "raw")
    after = {}
    for as_of_date in SUCCESSIVE_DATES:
        skip_tests = NO_UNIT_TESTS if as_of_date == SUCCESSIVE_DATES[-1] else NO_DATA_TESTS
        run = workspace.dbt("build", *skip_tests, dbt_vars={**BUILD_VARS, "as_of_date": as_of_date})
        assert run.returncode == 0, run.output
        copy = workspace.scratch / f"after_{as_of_date}.duckdb"
        shutil.copyfile(workspace.warehouse, copy)
        after[as_of_date] = copy
    return ChainBuild(workspace, after)
