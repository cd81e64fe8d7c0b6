"""No dbt model over 200 lines (issue #23, thin hubs): a model that outgrows it is split into
intermediate models, one block of figures each (DECISIONLOG, "Thin hub marts"). Reads files
only: no dbt run."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
MAX_LINES = 200


def model_files() -> list[Path]:
    """Every SQL model and Python model of the project."""
    return sorted((PROJECT_DIR / "models").rglob("*.sql")) + sorted(
        (PROJECT_DIR / "python_models").rglob("*.py")
    )


def test_no_model_over_200_lines() -> None:
    files = model_files()
    assert len(files) > 50, f"found only {len(files)} model files under {PROJECT_DIR}"
    too_long = {
        str(path.relative_to(PROJECT_DIR)): lines
        for path in files
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, (
        f"models over {MAX_LINES} lines (split them into intermediate models): {too_long}"
    )
