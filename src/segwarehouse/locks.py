"""Who holds a file: the refresh's pid lock files and DuckDB's busy-file errors as one line.

A refresh holds `<serving>.lock` and `<work>.lock` (O_EXCL files holding its pid); a lock
whose pid is gone is a stale lock of a killed refresh and is taken over, saying so. DuckDB
refuses a second writer with "Could not set lock on file … (PID n)"; `busy_file` turns that
into `BusyFile`, one line naming the file, the pid and its command line, and what to do.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb

# A lock file without a pid younger than this is being written by a starting refresh.
FRESH_LOCK_SECONDS = 10
_DUCKDB_LOCK = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)".*?\(PID (?P<pid>\d+)\)', re.DOTALL
)


class RefreshLocked(RuntimeError):
    """Another refresh holds the lock."""


class BusyFile(RuntimeError):
    """Another process holds a DuckDB file's lock; the message is one line with its pid."""

    def __init__(self, path: Path | str, pid: int | None, hint: str) -> None:
        """`hint` says what to do; the message names the file, the pid and its command."""
        self.path, self.pid = Path(path), pid
        holder = f"pid {pid} ({describe_process(pid)})" if pid else "another process"
        super().__init__(f"{path} is locked by {holder}: {hint}")


def duckdb_lock_holder(error: BaseException) -> tuple[str, int | None] | None:
    """(path, pid) of a DuckDB 'Could not set lock on file' error, else None."""
    text = str(error)
    if "Could not set lock on file" not in text:
        return None
    match = _DUCKDB_LOCK.search(text)
    if match is None:
        path = re.search(r'file "([^"]+)"', text)
        return (path.group(1) if path else "?", None)
    return match.group("path"), int(match.group("pid"))


@contextlib.contextmanager
def busy_file(hint: str | Callable[[int | None], str]) -> Iterator[None]:
    """Re-raise DuckDB's lock errors inside the block as BusyFile with `hint`."""
    try:
        yield
    except duckdb.Error as error:
        holder = duckdb_lock_holder(error)
        if holder is None:
            raise
        path, pid = holder
        raise BusyFile(path, pid, hint(pid) if callable(hint) else hint) from None


def describe_process(pid: int) -> str:
    """The command line of a running process, shortened; '?' when it cannot be read."""
    words = _command_line(pid)
    text = " ".join(" ".join([Path(words[0]).name, *words[1:]]).split()) if words else "?"
    return text if len(text) <= 80 else text[:77] + "..."


def is_dbt(pid: int | None) -> bool:
    """Whether a pid runs dbt (its executable or script is named dbt)."""
    if not pid:
        return False
    return any(Path(word).name == "dbt" for word in _command_line(pid)[:2])


def _command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@contextlib.contextmanager
def pid_lock(lock: Path, what: str, log: Callable[[str], None] = print) -> Iterator[Path]:
    """Hold `lock` (O_EXCL, holding this pid) for `what`; a lock of a dead pid is taken over
    and said so in one line; a live holder raises RefreshLocked."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = lock_holder(lock)
            if (holder is None and _age_seconds(lock) < FRESH_LOCK_SECONDS) or (
                holder is not None and alive(holder)
            ):
                raise RefreshLocked(
                    f"another refresh (pid {holder or '?'}) holds {lock}; wait for it to finish "
                    "(remove the file only if that process is gone)"
                ) from None
            log(f"stale lock {lock} of {what} (pid {holder or '?'}, no longer running): taken over")
            lock.unlink(missing_ok=True)
    else:  # pragma: no cover - lost a race twice
        raise RefreshLocked(f"could not take {lock}")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def lock_holder(lock: Path) -> int | None:
    """The pid written in a lock file, None when absent or unreadable."""
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _age_seconds(path: Path) -> float:
    try:
        return datetime.now(UTC).timestamp() - path.stat().st_mtime
    except OSError:
        return 0.0
