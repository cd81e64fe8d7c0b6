"""Result object returned by :func:`segwarehouse.generator.generate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass
class GenerationSummary:
    """What was generated, where, and how long each step took."""

    customers: int
    seed: int
    end_date: date
    fmt: str
    out_dir: Path
    truth_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    truth_files: dict[str, Path] = field(default_factory=dict)
    truth_rows: dict[str, int] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    manifest_path: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation (paths and dates as strings)."""
        return {
            "customers": self.customers,
            "seed": self.seed,
            "end_date": self.end_date.isoformat(),
            "format": self.fmt,
            "out_dir": str(self.out_dir),
            "truth_dir": str(self.truth_dir),
            "files": {name: str(path) for name, path in self.files.items()},
            "rows": dict(self.rows),
            "truth_files": {name: str(path) for name, path in self.truth_files.items()},
            "truth_rows": dict(self.truth_rows),
            "step_seconds": {name: round(sec, 3) for name, sec in self.step_seconds.items()},
            "total_seconds": round(self.total_seconds, 3),
            "manifest_path": str(self.manifest_path) if self.manifest_path else None,
            "parameters": dict(self.parameters),
        }
