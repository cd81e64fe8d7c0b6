"""A dbt launcher for the test suite: one process per test worker imports dbt, its DuckDB
adapter and the libraries the Python models use once, then forks a child for each dbt
invocation. The child is a new process as `subprocess` would start (its own working folder,
environment, output files and DuckDB connections, gone at exit), minus the CPU spent
importing the same modules again and warming the same caches (the suite starts dbt more than
a hundred times).

Before it serves, the zygote parses the project once in a folder of its own (`warm_up`): the
children then start with dbt's lazily built serializers, JSON schemas and macro templates in
place, which takes a partial-parse `dbt parse` from about 2.5 s to 1.5 s. That parse runs
without dbt's static parser: its Rust library must not be used before a fork (a forked
child's first static parse then hangs on a lock), and the children use it as dbt does.

Only the suite's own workspaces use it (conftest.Workspace.dbt); the product's launcher
(segwarehouse.dbt_runner) and every CLI subprocess a test starts still run dbt as a child
process. Nothing from this project is imported before the fork: a module that read settings
at import would keep the zygote's.

Protocol, one Unix-socket connection per invocation: the client sends a byte with two file
descriptors (stdout, stderr), then the request as JSON ({"args", "env", "cwd"}) and shuts its
side; a forked child forks the dbt process, waits for its exit and writes {"returncode": n}.
A child that dies without a reply reads as returncode -1.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import traceback
from pathlib import Path
from typing import NoReturn

# What a dbt process of this project imports anyway; the rest imports on demand in the child.
PRELOAD = (
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "dbt.adapters.duckdb.impl",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy.sparse.csgraph",
    "sklearn.ensemble",
    "splink",
)
READY = "ready"


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _run_request(conn: socket.socket) -> None:
    """In the forked child: fork the dbt process, wait for it to exit (so that its DuckDB
    file locks are gone when the client goes on), reply with its exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _, fds, _, _ = socket.recv_fds(conn, 1, 2)
    request = json.loads(_read_all(conn))
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become_dbt(request, fds)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode())
    conn.close()
    os._exit(0)


def _become_dbt(request: dict, fds: list[int]) -> NoReturn:
    """Run dbt as the requested process would, then exit with its exit code."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    sys.argv = ["dbt", *request["args"]]
    returncode = 1
    try:
        from dbt.cli.main import cli

        cli.main(args=request["args"], prog_name="dbt")
        returncode = 0
    except SystemExit as stop:
        code = stop.code
        returncode = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:  # the child reports every failure, as a dbt process would
        traceback.print_exc()
    # A normal interpreter exit, not os._exit: DuckDB checkpoints its write-ahead log into the
    # warehouse file when dbt-duckdb's last connection is finalised at exit, and a test that
    # copies the file alone would otherwise miss the build's last writes.
    sys.exit(returncode)


def warm_up(project_dir: Path, folder: Path) -> None:
    """Parse the project once in this process (target, logs and warehouse path in `folder`),
    for the caches the children inherit. A failed warm-up costs the children time, nothing
    else: it is reported on stderr and the zygote serves anyway."""
    from dbt.cli.main import dbtRunner

    saved = dict(os.environ)
    os.environ.update(
        {
            "SEGMENTS_WAREHOUSE": str(folder / "warm-up.duckdb"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    try:
        flags = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
        flags += ["--target-path", str(folder / "target"), "--log-path", str(folder / "logs")]
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries READY to the client
            result = dbtRunner().invoke(["parse", "--no-static-parser", "--quiet", *flags])
        if not result.success:
            print(f"dbt zygote: the warm-up parse failed: {result.exception}", file=sys.stderr)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def serve(path: Path, project_dir: Path | None = None) -> None:
    """The zygote: import, warm up on `project_dir` (when given), listen on `path`, fork a
    child per connection."""
    for module in PRELOAD:
        importlib.import_module(module)
    if project_dir is not None:
        warm_up(project_dir, path.parent)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    print(READY, flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            _run_request(conn)
        conn.close()


def run(path: Path, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """One dbt invocation through the zygote at `path`: exit code, stdout, stderr."""
    with (
        _Capture() as out,
        _Capture() as err,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
    ):
        conn.connect(str(path))
        socket.send_fds(conn, [b"r"], [out.fileno(), err.fileno()])
        conn.sendall(json.dumps({"args": args, "env": env, "cwd": str(cwd)}).encode())
        conn.shutdown(socket.SHUT_WR)
        reply = _read_all(conn)
        returncode = json.loads(reply)["returncode"] if reply else -1
        return returncode, out.text(), err.text()


class _Capture:
    """An unnamed temporary file the child writes one output stream to."""

    def __enter__(self) -> _Capture:
        self._file = tempfile.TemporaryFile()
        return self

    def fileno(self) -> int:
        return self._file.fileno()

    def text(self) -> str:
        self._file.seek(0)
        return self._file.read().decode("utf-8", errors="replace")

    def __exit__(self, *exc: object) -> None:
        self._file.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
