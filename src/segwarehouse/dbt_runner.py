"""The one place dbt command lines and their environment are built (`DbtInvocation`), and the
production launcher `run_dbt` (repo root as project and profiles dir, pseudonym key, dies with
its parent). The CLI, refresh, doctor, bench and the tests' workspaces all go through it."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from segwarehouse.settings import PSEUDONYM_KEY_ENV, Settings, pseudonym_key_env

# The dbt executable; default the one installed beside this Python.
DBT_ENV = "SEGMENTS_DBT"
_PR_SET_PDEATHSIG = 1
# `dbt build` as scheduled jobs run it (refresh, run, bench). dbt's unit tests check the
# models' SQL on fixed inputs whatever the day's data, so they run where code changes
# (`make test`, CI), not in every daily build (18 nodes; dbt's docs advise the same).
SCHEDULED_BUILD = ("build", "--exclude-resource-type", "unit_test")


# dbt's saved parse state in a target folder. A full parse of this project is about 7 s of
# CPU, a partial one with nothing changed about 2.5 s; dbt parses in full when a target folder
# has no state, so callers that run dbt in fresh folders (doctor, the test workspaces) keep
# states in a cache folder, one per vars and settings (`saved_parse_state`).
PARTIAL_PARSE = "partial_parse.msgpack"
# Environment that differs per run and never reaches dbt's parse (read by the profile's path,
# which a cached invocation names relatively, by macros when a node runs, or the profile's
# thread count, which dbt leaves out of its own parse check): not in the key.
PER_RUN_ENV = frozenset(
    {
        "SEGMENTS_WAREHOUSE",
        "SEGMENTS_DBT_THREADS",
        "SEGMENTS_RAW_DIR",
        "DBT_TARGET_PATH",
        "DBT_LOG_PATH",
        "DBT_LOG_LEVEL_FILE",
        PSEUDONYM_KEY_ENV,
    }
)


def dbt_executable() -> str:
    """$SEGMENTS_DBT, else the dbt installed beside this Python, else dbt on PATH."""
    configured = os.environ.get(DBT_ENV)
    if configured:
        return configured
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.is_file() else shutil.which("dbt") or "dbt"


@dataclass(frozen=True)
class DbtInvocation:
    """What differs between two dbt processes of this project: the landing folder and
    warehouse it reads and writes (profiles.yml reads SEGMENTS_RAW_DIR and SEGMENTS_WAREHOUSE),
    its target and log folders, its vars and any other environment. dbt runs with the project
    folder as working directory unless `working_dir` is set; flags are added only for what is
    set, so a command line stays short enough to print in a report.

    `working_dir`: run dbt from this folder instead (with --project-dir and --profiles-dir
    added). A warehouse inside it is then named by its file name alone, so two workspaces'
    dbt processes see the same profile and can reuse one partial-parse state
    (tests/python/conftest.py's parse cache): dbt hashes the profile's `path` into the state it
    checks before a partial parse."""

    project_dir: Path
    raw_dir: Path | None = None
    warehouse: Path | None = None
    target_path: Path | None = None
    log_path: Path | None = None
    profiles_dir: Path | None = None
    dbt_vars: Mapping[str, object] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    working_dir: Path | None = None

    def command(self, *args: str) -> list[str]:
        """The dbt command line: executable, args, then this invocation's flags."""
        command = [dbt_executable(), *args]
        profiles_dir = self.profiles_dir
        if self.working_dir is not None:
            command += ["--project-dir", str(self.project_dir)]
            # DBT_PROFILES_DIR, when set, stays in charge (the fast tier points it nowhere).
            if profiles_dir is None and not os.environ.get("DBT_PROFILES_DIR"):
                profiles_dir = self.project_dir
        for flag, value in (
            ("--profiles-dir", profiles_dir),
            ("--target-path", self.target_path),
            ("--log-path", self.log_path),
        ):
            if value is not None:
                command += [flag, str(value)]
        if self.dbt_vars:
            command += ["--vars", json.dumps(dict(self.dbt_vars))]
        return command

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: `base` (default this process's), no usage stats, the
        landing folder and warehouse when set, then `extra_env`."""
        env = {**(os.environ if base is None else base), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        if self.raw_dir is not None:
            env["SEGMENTS_RAW_DIR"] = str(self.raw_dir)
        if self.warehouse is not None:
            env["SEGMENTS_WAREHOUSE"] = str(self._warehouse_as_seen())
        return {**env, **self.extra_env}

    @property
    def cwd(self) -> Path:
        """The folder dbt runs from."""
        return self.working_dir or self.project_dir

    def _warehouse_as_seen(self) -> Path:
        """The warehouse path dbt is given: relative to `working_dir` when it lies there."""
        assert self.warehouse is not None
        if self.working_dir is not None and self.warehouse.parent == self.working_dir:
            return Path(self.warehouse.name)
        return self.warehouse

    def run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        """dbt in a child process from the project folder; output captured (text) or not. On
        Linux the child gets SIGTERM when this process dies (see `die_with_parent`)."""
        return subprocess.run(
            self.command(*args),
            cwd=self.cwd,
            env=self.environment(),
            capture_output=capture,
            text=True,
            check=False,
            preexec_fn=die_with_parent(os.getpid()) if sys.platform == "linux" else None,
        )


def saved_parse_state(cache_dir: Path, invocation: DbtInvocation) -> Path | None:
    """Where `cache_dir` keeps dbt's parse state for invocations like this one: same vars,
    warehouse file name and settings. Only a cache: dbt checks a state against the project's
    files, vars and profile before it uses it and parses in full when anything differs, so a
    wrong entry costs time, never a result. None unless the invocation runs from its
    warehouse's folder: otherwise the profile names the file's full path, which differs per
    run."""
    if invocation.warehouse is None or invocation.warehouse.parent != invocation.working_dir:
        return None
    environment = {
        name: value
        for name, value in sorted({**os.environ, **invocation.extra_env}.items())
        if name.startswith(("SEGMENTS_", "DBT_")) and name not in PER_RUN_ENV
    }
    key = json.dumps(
        [dict(invocation.dbt_vars or {}), invocation.warehouse.name, environment],
        sort_keys=True,
        default=str,
    )
    return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.msgpack"


@contextmanager
def parse_state_kept(invocation: DbtInvocation, saved: Path | None) -> Iterator[None]:
    """Around one dbt run: start from the `saved` state when the invocation's target folder
    has none, and keep the state the run writes there. The copy is private, then renamed into
    place, so a process beside this one never reads half a file; a cache that cannot be
    written (a read-only folder) costs the next run a full parse, nothing else."""
    if saved is None or invocation.target_path is None:
        yield
        return
    state = invocation.target_path / PARTIAL_PARSE
    if saved.is_file() and not state.exists():
        state.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, state)
    started = time.time()
    yield
    if not state.is_file() or state.stat().st_mtime < started - 1:
        return
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        partial = saved.with_name(f"{saved.name}.{os.getpid()}")
        shutil.copyfile(state, partial)
        partial.replace(saved)
    except OSError:
        pass


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt invocation."""

    success: bool
    returncode: int


def run_dbt(
    project_dir: Path,
    args: Sequence[str],
    dbt_vars: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> DbtResult:
    """Run dbt in a child process; its output goes straight to this process's terminal.

    The child gets the pseudonym key file (settings.pseudonym_key_env); without a usable key
    this raises PseudonymKeyError (one line saying how to create one) before dbt starts.

    A child process, not dbtRunner in-process: dbt-duckdb keeps the warehouse file open after
    the invocation, and DuckDB then refuses any other connection from this process to that
    file ("different configuration than existing connections"), so the summary that follows
    a build could not read it.

    On Linux the child gets SIGTERM when this process dies (prctl PR_SET_PDEATHSIG), so a
    killed refresh leaves no orphaned dbt holding the work warehouse's lock.
    """
    invocation = DbtInvocation(
        project_dir,
        profiles_dir=project_dir,
        dbt_vars=dbt_vars,
        extra_env={**pseudonym_key_env(Settings.from_env(project_dir)), **(env or {})},
    )
    completed = invocation.run(*args, "--project-dir", str(project_dir))
    return DbtResult(success=completed.returncode == 0, returncode=completed.returncode)


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when the thread that started it dies (Linux).

    prctl is looked up here, before the fork: the child only calls it.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        if prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(126)

    return arm
