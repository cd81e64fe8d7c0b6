"""Source freshness gate of `segwarehouse refresh`: no publish from stale landing files.

The thresholds live in the sources YAML (models/staging/*/_*__sources.yml: `freshness` from
vars freshness__warn_after_hours / freshness__error_after_hours, `loaded_at_query` = the
modification time of the newest landing file, recorded by register_raw_sources in
raw.<table>__landing_files; the landing files carry no load-time column). `check()` runs
`dbt source freshness` against the work warehouse and reads its sources.json; `gate()` makes
the callable refresh runs before building: a source with `required_file: true` past its
error threshold refuses the publish with exit code EXIT_STALE and one line naming the source
and its age, unless --allow-stale (then the same line is kept as a note). Optional sources
that are stale only warn; an optional source that did not land at all is not stale (absent
files read as empty by contract).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from segwarehouse.dbt_runner import run_dbt
from segwarehouse.settings import WAREHOUSE_ENV

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_STALE = 5
# dbt reports a source with no row (no landing file) as loaded at datetime.min.
_NEVER_LOADED_YEAR = 1


class _Record(Protocol):
    """What the gate writes on publish.RunRecord (kept structural: no import cycle)."""

    failures: list[str]
    notes: list[str]
    status: str


@dataclass(frozen=True)
class SourceAge:
    """One source table's freshness result (one row of dbt's sources.json)."""

    source: str  # "<source>.<table>"
    status: str  # pass | warn | error | runtime error
    age_seconds: float | None
    max_loaded_at: str | None
    error_after_hours: float | None
    warn_after_hours: float | None
    required: bool
    message: str | None = None

    @property
    def landed(self) -> bool:
        """False when dbt found no landing file at all (max_loaded_at is datetime.min)."""
        if not self.max_loaded_at:
            return False
        return datetime.fromisoformat(self.max_loaded_at).year > _NEVER_LOADED_YEAR

    @property
    def is_stale(self) -> bool:
        """Past the error threshold (a landed source only)."""
        return self.status == "error" and self.landed

    def line(self) -> str:
        """One line: source, age, newest landing file time, threshold."""
        if self.status == "runtime error":
            return f"freshness: {self.source}: could not be checked: {self.message}"
        kind = "required" if self.required else "optional"
        threshold = (
            f"error after {self.error_after_hours:g} h"
            if self.is_stale or self.warn_after_hours is None
            else f"warn after {self.warn_after_hours:g} h"
        )
        return (
            f"freshness: {self.source} ({kind}) is {format_age(self.age_seconds)} old "
            f"(newest landing file modified {self.max_loaded_at}; {threshold})"
        )


def format_age(seconds: float | None) -> str:
    """An age as '3d 4h', '5h 12m' or '40m'."""
    if seconds is None:
        return "of unknown age"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _hours(criterion: Mapping | None) -> float | None:
    if not criterion or criterion.get("count") is None:
        return None
    per = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}[str(criterion.get("period", "hour"))]
    return float(criterion["count"]) * per


def read_results(target: Path) -> list[SourceAge]:
    """The freshness results in target/sources.json, with `required_file` from the manifest."""
    results = json.loads((target / "sources.json").read_text(encoding="utf-8"))["results"]
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    sources = manifest.get("sources", {})
    ages = []
    for result in results:
        node = sources.get(result["unique_id"], {})
        criteria = result.get("criteria") or {}
        ages.append(
            SourceAge(
                source=".".join(result["unique_id"].split(".")[-2:]),
                status=str(result.get("status")),
                age_seconds=result.get("max_loaded_at_time_ago_in_s"),
                max_loaded_at=result.get("max_loaded_at"),
                error_after_hours=_hours(criteria.get("error_after")),
                warn_after_hours=_hours(criteria.get("warn_after")),
                required=bool((node.get("meta") or {}).get("required_file")),
                message=result.get("error") or result.get("message"),
            )
        )
    return sorted(ages, key=lambda age: age.source)


def check(
    project_dir: Path,
    work: Path,
    target: Path,
    dbt_vars: Mapping[str, object] | None = None,
) -> list[SourceAge] | None:
    """Run `dbt source freshness` against the work warehouse; its results (None when the
    dbt executable exited 0 without writing sources.json, which dbt itself never does).

    dbt exits non-zero when a source is stale: that is a result, not an error here. Raises
    FreshnessError when dbt wrote no results (it stopped before checking: a broken contract,
    a locked warehouse; dbt's own output says why).
    """
    (target / "sources.json").unlink(missing_ok=True)
    completed = run_dbt(
        project_dir,
        ["source", "freshness", "--target-path", str(target)],
        dbt_vars=dbt_vars,
        env={WAREHOUSE_ENV: str(work)},
    )
    if (target / "sources.json").is_file():
        return read_results(target)
    if completed.success:  # not dbt (a $SEGMENTS_DBT stand-in): nothing was checked
        return None
    raise FreshnessError(
        f"dbt source freshness exited {completed.returncode} before checking any source "
        "(its output above says why); nothing published"
    )


class FreshnessError(RuntimeError):
    """dbt source freshness produced no results."""


def decide(
    ages: list[SourceAge], record: _Record, log: Callable[[str], None], allow_stale: bool
) -> int:
    """EXIT_STALE (with record.failures / status set) when a required source is stale and
    stale is not allowed; else EXIT_OK. Every stale or warning source is logged and noted."""
    blocking = [age for age in ages if age.required and (age.is_stale or not age.landed)]
    blocking += [age for age in ages if age.required and age.status == "runtime error"]
    others = [
        age
        for age in ages
        if age not in blocking and age.landed and age.status in {"warn", "error", "runtime error"}
    ]
    for age in others:
        record.notes.append(age.line())
        log(age.line())
    if not blocking:
        return EXIT_OK
    lines = [age.line() for age in blocking]
    if allow_stale:
        for line in lines:
            record.notes.append(f"{line}: published anyway (--allow-stale)")
            log(f"{line}: publishing anyway (--allow-stale)")
        return EXIT_OK
    record.failures += lines
    record.status = "stale"
    for line in lines:
        log(f"refused: {line}: land a fresh delivery, or rerun with --allow-stale")
    return EXIT_STALE


def gate(
    project_dir: Path,
    work: Path,
    dbt_vars: Mapping[str, object] | None = None,
    allow_stale: bool = False,
    target: Path | None = None,
) -> Callable[[_Record, Callable[[str], None]], int]:
    """The freshness step of a refresh: run the check, then `decide` (see publish.refresh)."""
    target = (
        target or Path(os.environ.get("DBT_TARGET_PATH") or project_dir / "target") / "freshness"
    )

    def run(record: _Record, log: Callable[[str], None]) -> int:
        log("freshness: dbt source freshness")
        try:
            ages = check(project_dir, work, target, dbt_vars)
        except FreshnessError as error:
            record.failures.append(f"freshness: {error}")
            record.status = "error"
            log(f"freshness: {error}")
            return EXIT_ERROR
        if ages is None:
            line = f"freshness: not checked: {target / 'sources.json'} was not written"
            record.notes.append(line)
            log(line)
            return EXIT_OK
        return decide(ages, record, log, allow_stale)

    return run
