"""No SQL block is copied between model files (issue #23): a piece of logic two models share
lives in a macro or an ephemeral model, not in both files.

A copy is six consecutive significant lines that stand, letter for letter (white space
folded), in two places of models/**/*.sql, or twice in one file. Blank lines, `--` comments
and lines of punctuation only (`(`, `),`, `) }}`) do not count: they are the same in every
CTE. Lines alike but for their names (the shape every CTE has) are not copies.
"""

from __future__ import annotations

import re
from collections import defaultdict

from conftest import PROJECT_DIR

RUN = 6
WORD = re.compile(r"\w")


def significant_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line with white space folded) of every line that counts."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        folded = " ".join(line.split())
        if WORD.search(folded) and not folded.startswith("--"):
            lines.append((number, folded))
    return lines


def copied_runs(files: dict[str, str]) -> dict[tuple[str, ...], list[tuple[str, int]]]:
    """Every run of RUN significant lines found in more than one place: run -> (file, line)."""
    places: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
    for name, text in files.items():
        lines = significant_lines(text)
        for start in range(len(lines) - RUN + 1):
            run = tuple(folded for _, folded in lines[start : start + RUN])
            places[run].append((name, lines[start][0]))
    return {run: where for run, where in places.items() if len(where) > 1}


def test_a_run_in_two_files_is_found_and_comments_and_punctuation_are_not() -> None:
    block = "\n".join(f"select c{index} from t" for index in range(RUN))
    found = copied_runs({"a.sql": f"with\n{block}\n", "b.sql": f"-- other\n\n{block}\n),\n"})
    assert list(found.values()) == [[("a.sql", 2), ("b.sql", 3)]]
    filler = "\n".join(["(", "", "-- same", "),", ") }}"] * RUN)
    assert copied_runs({"a.sql": filler, "b.sql": filler}) == {}
    shorter = "\n".join(block.splitlines()[:-1])
    assert copied_runs({"a.sql": shorter, "b.sql": shorter}) == {}


def test_no_model_copies_six_lines_of_another() -> None:
    files = {
        str(path.relative_to(PROJECT_DIR)): path.read_text(encoding="utf-8")
        for path in sorted((PROJECT_DIR / "models").rglob("*.sql"))
    }
    assert len(files) > 50
    copies = [
        " ~ ".join(f"{name}:{line}" for name, line in where)
        for where in copied_runs(files).values()
    ]
    assert copies == [], (
        "SQL copied between models (move it to a macro or an ephemeral model):\n"
        + "\n".join(copies)
    )
