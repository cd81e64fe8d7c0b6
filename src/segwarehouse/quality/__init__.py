"""Data-quality gate: Great Expectations suites (defined in code) and their checkpoint runner."""

from segwarehouse.quality.runner import CheckReport, ExpectationOutcome, run_checks
from segwarehouse.quality.suites import SUITE_VERSION, Suite, all_suites

__all__ = [
    "SUITE_VERSION",
    "CheckReport",
    "ExpectationOutcome",
    "Suite",
    "all_suites",
    "run_checks",
]
