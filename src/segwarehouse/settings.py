"""Where things live: the environment variables shared by dbt (profiles.yml) and the tooling."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

RAW_DIR_ENV = "SEGMENTS_RAW_DIR"
WAREHOUSE_ENV = "SEGMENTS_WAREHOUSE"
TRUTH_DIR_ENV = "SEGMENTS_TRUTH_DIR"
# The file BI tools read, written only by the publish step (segwarehouse.publish).
SERVING_ENV = "SEGMENTS_SERVING"

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_WAREHOUSE = "warehouse/segments.duckdb"
DEFAULT_TRUTH_DIR = "data/truth"
DEFAULT_SERVING = "warehouse/serving.duckdb"
# Written into the landing folder by the generator: these files are synthetic demo data.
SYNTHETIC_MANIFEST = "synthetic_data.json"

# The landing files of the raw-data contract (models/staging/*/_*__sources.yml).
REQUIRED_SOURCES = ("crm_customers", "orders")
OPTIONAL_SOURCES = (
    "order_items",
    "products",
    "web_events",
    "consents",
    "campaign_events",
    "erasure_requests",
)


@dataclass(frozen=True)
class Settings:
    """Resolved locations, relative paths taken from the project root."""

    project_dir: Path
    raw_dir: Path
    warehouse: Path
    truth_dir: Path

    @classmethod
    def from_env(cls, project_dir: Path | None = None) -> Settings:
        """Read the SEGMENTS_* environment variables, with the documented defaults."""
        root = (project_dir or find_project_dir()).resolve()
        return cls(
            project_dir=root,
            raw_dir=_resolve(root, os.environ.get(RAW_DIR_ENV, DEFAULT_RAW_DIR)),
            warehouse=_resolve(root, os.environ.get(WAREHOUSE_ENV, DEFAULT_WAREHOUSE)),
            truth_dir=_resolve(root, os.environ.get(TRUTH_DIR_ENV, DEFAULT_TRUTH_DIR)),
        )


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding dbt_project.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dbt_project.yml").is_file():
            return folder
    raise FileNotFoundError(
        f"no dbt_project.yml in {here} or above: run this from inside the repository"
    )


def landing_files(raw_dir: Path) -> list[Path]:
    """Contract landing files present in raw_dir (csv or parquet): `<source>.<ext>` or the
    daily deliveries `<source>/*.<ext>`."""
    names = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
    single = [
        path
        for name in names
        for path in (raw_dir / f"{name}.csv", raw_dir / f"{name}.parquet")
        if path.is_file()
    ]
    daily = [
        path
        for name in names
        for pattern in ("*.csv", "*.parquet")
        for path in (raw_dir / name).glob(pattern)
        if path.is_file()
    ]
    return sorted([*single, *daily])


def file_fingerprint(path: Path) -> dict[str, int]:
    """Size and modification time (ns) of a file: changes when the file is rewritten."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def synthetic_files(raw_dir: Path) -> list[Path]:
    """Landing files that are still the generator's (listed in SYNTHETIC_MANIFEST with the
    same size and modification time): [] for real data."""
    manifest = raw_dir / SYNTHETIC_MANIFEST
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return []
    return [
        path
        for path in landing_files(raw_dir)
        if listed.get(path.relative_to(raw_dir).as_posix()) == file_fingerprint(path)
    ]


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path
