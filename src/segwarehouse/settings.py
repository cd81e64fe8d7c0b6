"""Where things live: the environment variables shared by dbt (profiles.yml) and the tooling."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

RAW_DIR_ENV = "SEGMENTS_RAW_DIR"
WAREHOUSE_ENV = "SEGMENTS_WAREHOUSE"
TRUTH_DIR_ENV = "SEGMENTS_TRUTH_DIR"
# The file BI tools read, written only by the publish step (segwarehouse.publish).
SERVING_ENV = "SEGMENTS_SERVING"

# The secret of the keyed pseudonyms (HMAC-SHA-256) published in the serving file: a file
# holding 32 to 64 random bytes as hex, outside the repository (docs/privacy.md). dbt reads the
# file by path at run time (macros/cross_db/pseudonym_hmac.sql), so only the path appears in
# compiled SQL and logs.
PSEUDONYM_KEY_ENV = "SEGMENTS_PSEUDONYM_KEY_FILE"
# DuckDB's limits, as profiles.yml gives them to dbt (same variables, same defaults).
MEMORY_LIMIT_ENV = "SEGMENTS_MEMORY_LIMIT"
DUCKDB_THREADS_ENV = "SEGMENTS_DUCKDB_THREADS"
# The demo's key (git-ignored, created on first use) when the landing folder is the
# repository's own data/raw and no key is configured.
DEMO_PSEUDONYM_KEY = "warehouse/.pseudonym.key"
PSEUDONYM_KEY_BYTES = 32
PSEUDONYM_KEY_PATTERN = r"([0-9a-fA-F]{2}){32,64}"
KEYGEN_HINT = (
    f"create one outside the repository with `segwarehouse keygen "
    f"~/.config/segwarehouse/pseudonym.key` (or `openssl rand -hex 32 > FILE`) and set "
    f"{PSEUDONYM_KEY_ENV} to its path"
)

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


class PseudonymKeyError(RuntimeError):
    """No usable pseudonym key: the message is one line saying what to do."""


def pseudonym_key_file(settings: Settings, scratch_key: Path | None = None) -> Path:
    """The key file of the keyed pseudonyms, checked: $SEGMENTS_PSEUDONYM_KEY_FILE when set;
    else, for the demo (landing folder = the repository's data/raw) warehouse/.pseudonym.key,
    or for a throw-away build `scratch_key`, created on first use. Else PseudonymKeyError."""
    configured = os.environ.get(PSEUDONYM_KEY_ENV, "").strip()
    if configured:
        return check_pseudonym_key(_resolve(settings.project_dir, configured))
    if scratch_key is not None:
        if not scratch_key.exists():
            write_pseudonym_key(scratch_key)
        return check_pseudonym_key(scratch_key)
    if settings.raw_dir != settings.project_dir / DEFAULT_RAW_DIR:
        raise PseudonymKeyError(
            f"no pseudonym key: {PSEUDONYM_KEY_ENV} is not set and the landing folder "
            f"{settings.raw_dir} is not the demo's; {KEYGEN_HINT}"
        )
    demo_key = settings.project_dir / DEMO_PSEUDONYM_KEY
    if not demo_key.exists():
        write_pseudonym_key(demo_key)
        print(
            f"created the demo's pseudonym key {demo_key} (git-ignored); for real data set "
            f"{PSEUDONYM_KEY_ENV} to a key outside the repository (docs/privacy.md)",
            file=sys.stderr,
        )
    return check_pseudonym_key(demo_key)


def pseudonym_key_env(settings: Settings, scratch_key: Path | None = None) -> dict[str, str]:
    """The environment entry that gives a dbt child process its key file (see
    pseudonym_key_file); every launcher of dbt adds it."""
    return {PSEUDONYM_KEY_ENV: str(pseudonym_key_file(settings, scratch_key))}


def check_pseudonym_key(path: Path) -> Path:
    """`path` if it holds a usable key, else PseudonymKeyError naming the file (not the key)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        reason = "does not exist" if isinstance(error, FileNotFoundError) else "is unreadable"
        raise PseudonymKeyError(f"pseudonym key file {path} {reason}: {KEYGEN_HINT}") from None
    if not re.fullmatch(PSEUDONYM_KEY_PATTERN, re.sub(r"\s", "", text)):
        raise PseudonymKeyError(
            f"pseudonym key file {path} must hold 32 to 64 bytes as hex and nothing else: "
            f"{KEYGEN_HINT}"
        )
    return path


def write_pseudonym_key(path: Path) -> Path:
    """Write a new random key (hex, mode 0600) to `path`; never overwrites an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(PSEUDONYM_KEY_BYTES) + "\n")
    return path


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


def duckdb_limits() -> dict[str, str]:
    """DuckDB's memory_limit and threads for the work run outside dbt (erasure, the bench's
    defaults): SEGMENTS_MEMORY_LIMIT and SEGMENTS_DUCKDB_THREADS, defaults as in profiles.yml.
    Without them DuckDB takes 80 % of the machine's memory: the 1M erasure sweep peaked at
    6.9 GiB where the build, at 5GB, stays under 5.5 GiB."""
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or "8GB",
        "threads": os.environ.get(DUCKDB_THREADS_ENV) or "2",
    }
