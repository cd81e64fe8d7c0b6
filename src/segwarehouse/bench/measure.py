"""Measuring a child process: wall time, the kernel's peak RSS of the process itself (read by a
tiny wait4 wrapper), the sampled peak RSS of its process tree and the peak disk space of its
spill folders."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from segwarehouse.bench.config import Measurement

SAMPLE_SECONDS = 0.1
# Spawns argv[2:], waits, and writes "<exit code> <peak RSS KiB>" of that child to argv[1].
RUSAGE_WRAPPER = (
    "import os, sys\n"
    "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')\n"
)


def measure(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    spill_dirs: Sequence[Path] = (),
) -> Measurement:
    """Run `command` to completion, output to log_path; wall time, peak RSS and peak spill.

    The command is started by a fresh, tiny Python process (RUSAGE_WRAPPER) that waits for it
    and records its rusage: a child forked straight from this process would report this
    process's own resident size (inherited at fork) as its peak when that is larger.
    """
    load_before = os.getloadavg()[0]
    rusage_path = log_path.with_suffix(".rusage")
    rusage_path.unlink(missing_ok=True)
    wrapper = [sys.executable, "-S", "-c", RUSAGE_WRAPPER, str(rusage_path), *command]
    with log_path.open("w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            wrapper, cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        sampler = _Sampler(process.pid, spill_dirs)
        sampler.start()
        wrapper_code = process.wait()
        seconds = time.perf_counter() - started
        sampler.stop()
    returncode, peak_kib = _read_rusage(rusage_path, wrapper_code)
    return Measurement(
        seconds=seconds,
        returncode=returncode,
        peak_rss_bytes=peak_kib * 1024,
        tree_peak_rss_bytes=sampler.peak_bytes,
        spill_peak_bytes=sampler.spill_peak_bytes,
        load_before=load_before,
        timeline=tuple(sampler.timeline),
    )


def _read_rusage(path: Path, wrapper_code: int) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) written by the wrapper; the wrapper's code if it died."""
    try:
        code, peak_kib = path.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return (wrapper_code or 1), 0
    return int(code), int(peak_kib)


class _Sampler(threading.Thread):
    """Samples the summed RSS of a process tree and the disk used by spill folders."""

    def __init__(self, pid: int, spill_dirs: Sequence[Path]) -> None:
        """Watch `pid`, its descendants and the spill folders."""
        super().__init__(daemon=True)
        self.pid = pid
        self.spill_dirs = tuple(spill_dirs)
        self.peak_bytes = 0
        self.spill_peak_bytes = 0
        # (unix time, process-tree RSS) of every sample: per-node peaks come from this.
        self.timeline: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        """Sample until stop()."""
        while not self._done.wait(SAMPLE_SECONDS):
            rss = tree_rss_bytes(self.pid)
            self.timeline.append((time.time(), rss))
            self.peak_bytes = max(self.peak_bytes, rss)
            spilled = sum(disk_usage_bytes(folder) for folder in self.spill_dirs)
            self.spill_peak_bytes = max(self.spill_peak_bytes, spilled)

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._done.set()
        self.join()


def tree_rss_bytes(pid: int) -> int:
    """Summed resident set size of `pid` and its descendants (0 once they are gone)."""
    children = _children_by_parent()
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += _rss_bytes(current)
        pending.extend(children.get(current, []))
    return total


def disk_usage_bytes(folder: Path) -> int:
    """Bytes on disk (allocated blocks) of the files under folder; 0 if it does not exist."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")
