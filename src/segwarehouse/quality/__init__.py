"""Data-quality gate: Great Expectations suites (defined in code) and their checkpoint runner.

The names below load on first use (PEP 562): importing Great Expectations takes about 3 s, and
the commands that never run the gate (`segwarehouse doctor`, `export`, `--help`) import this
package through `publish` without paying for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segwarehouse.quality.runner import CheckReport, ExpectationOutcome, run_checks
    from segwarehouse.quality.suites import SUITE_VERSION, Suite, all_suites

# Each public name and the module of this package that defines it.
_HOMES = {
    "CheckReport": "runner",
    "ExpectationOutcome": "runner",
    "run_checks": "runner",
    "SUITE_VERSION": "suites",
    "Suite": "suites",
    "all_suites": "suites",
}

__all__ = [
    "SUITE_VERSION",
    "CheckReport",
    "ExpectationOutcome",
    "Suite",
    "all_suites",
    "run_checks",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
