"""Engine-neutral model SQL (issue #27): no DuckDB-only construct in models/**/*.sql. Engine
differences live in dispatched macros under macros/cross_db/ (a `duckdb__` and a `spark__`
implementation each, documented in macros/cross_db/_cross_db__macros.yml); a model calls the
dispatcher and never branches on `target.type`. Reads files only: no dbt, no Spark.

Each construct below is one that Spark 4 rejects (parse or analysis) or computes differently
(docs/scale_out.md). The scan skips SQL `--` comments and Jinja comments; list literals are
looked for in the SQL text only (Jinja expressions use lists freely). SQL that a model runs
through `run_query` is inside a Jinja string and is scanned too: it runs on the target.
Macros are not scanned (dispatched macros keep DuckDB SQL in their `default__`/`duckdb__`);
tests/python/test_spark_explain.py checks what they render on Spark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Construct:
    """A DuckDB-only construct: how to find it, where it must not be, and what to use."""

    name: str
    pattern: str
    instead: str
    example: str  # a line the pattern must flag (checked below, so a pattern cannot rot)
    sql_only: bool = False  # looked for in the SQL with the Jinja tags blanked out

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


DENYLIST: tuple[Construct, ...] = (
    Construct(
        "cte materialization hint",
        r"\bas\s+(not\s+)?materialized\b",
        "`as {{ not_materialized() }} (` (nothing on Spark)",
        "source as not materialized (",
    ),
    Construct(
        "struct_pack",
        r"\bstruct_pack\s*\(",
        "a cross_db macro (named_struct)",
        "struct_pack(a := 1)",
    ),
    Construct("`::` cast", r"::", "cast(x as type) / dbt.type_*()", "select x::date"),
    Construct(
        "qualify",
        r"\bqualify\b",
        "a row_number() subquery with where",
        "qualify row_number() over () = 1",
    ),
    Construct(
        "list function",
        r"\blist_\w+\s*\(|\blist\s*\(",
        "arrays via a cross_db macro",
        "list_value(1, 2)",
    ),
    Construct(
        "list literal",
        r"(^|[\s(,=])\[",
        "a cross_db macro (array(...) on Spark)",
        "select unnest(['a', 'b'])",
        sql_only=True,
    ),
    Construct(
        "Jinja list rendered into SQL",
        r"\{\{[^}]*\|\s*list\s*\}\}",
        "a cross_db macro that renders the values",
        "select unnest({{ var('x') | list }})",
    ),
    Construct(
        "map / struct literal",
        r"\bmap\s*\{|\{\s*'",
        "map_literal() (map(k, v, ...) on Spark) / named_struct via a cross_db macro",
        "select map {'a': 1} as m",
        sql_only=True,
    ),
    Construct(
        "interval function",
        r"\bto_(days|hours|minutes|seconds|months|years)\s*\(",
        "days_interval()",
        "ts + to_days(3)",
    ),
    Construct(
        "to_json",
        r"\bto_json\s*\(",
        "row_json() (Spark drops null fields unless told not to)",
        "to_json(raw_row)",
    ),
    Construct(
        "star exclude",
        r"\*\s*exclude\s*\(",
        "the columns listed / star_except macro",
        "select * exclude (a)",
    ),
    Construct(
        "file reader",
        r"\bread_(csv|csv_auto|parquet|json|blob|text)\s*\(",
        "a source()",
        "read_csv('x.csv')",
    ),
    Construct(
        "regexp_matches / regexp_full_match",
        r"\bregexp_(matches|full_match)\s*\(",
        "a cross_db regex macro (rlike on Spark)",
        "regexp_matches(a, 'x')",
    ),
    Construct(
        "strftime / strptime in SQL",
        r"(?<![.\w])(try_)?str[fp]time\s*\(",
        "a cross_db format macro (date_format on Spark)",
        "strftime(ts, '%Y')",
    ),
    Construct(
        "epoch", r"\bepoch(_ms|_us|_ns)?\s*\(", "a cross_db epoch macro (unix_seconds)", "epoch(ts)"
    ),
    Construct(
        "arg_min / arg_max",
        r"\barg_(min|max)\s*\(",
        "arg_min_by / arg_max_by macros",
        "arg_max(a, b)",
    ),
    Construct(
        "hash",
        r"(?<![.\w])hash\s*\(",
        "a cross_db hash macro (engines hash differently)",
        "hash(a)",
    ),
    Construct(
        "sha256", r"(?<![.\w])sha256\s*\(", "a cross_db sha256 macro (sha2 on Spark)", "sha256(a)"
    ),
    Construct(
        "unsigned / huge integer type",
        r"\b(ubigint|uinteger|usmallint|utinyint|uhugeint|hugeint)\b",
        "bigint / decimal(20, 0) via a cross_db macro",
        "cast(x as ubigint)",
    ),
    Construct(
        "varchar type",
        r"\bvarchar\b",
        "dbt.type_string() / contract `string`",
        "cast(x as varchar)",
    ),
    Construct(
        "date_diff / date_sub with a quoted unit",
        r"\bdate_(diff|sub)\s*\(\s*'",
        "date_diff_days / date_diff_years",
        "date_diff('day', a, b)",
    ),
    Construct("try()", r"(?<![.\w])try\s*\(", "try_expression()", "try(1 / 0)"),
    Construct(
        "string_agg / listagg",
        r"\b(string_agg|listagg|group_concat)\s*\(",
        "a cross_db string-aggregate macro",
        "string_agg(a, ',' order by a)",
    ),
    Construct(
        "unnest", r"\bunnest\s*\(", "a cross_db macro (explode on Spark)", "select unnest(a)"
    ),
    Construct(
        "quantile",
        r"\b(quantile_cont|quantile_disc|quantile)\s*\(",
        "quantile_cont() / quantile_disc() macros",
        "quantile_disc(a, 0.5)",
        sql_only=True,
    ),
    Construct("`//` integer division", r"(?<![:'/])//(?!/)", "integer_divide()", "select a // b"),
    Construct(
        "union by name",
        r"\bunion\s+(all\s+)?by\s+name\b",
        "columns listed in order",
        "union all by name",
    ),
    Construct(
        "target.type branch",
        r"\btarget\.type\b",
        "a dispatched macro",
        "{% if target.type == 'duckdb' %}",
    ),
)


@dataclass(frozen=True)
class Finding:
    """One construct on one line of one file."""

    path: str
    line: int
    construct: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.construct}: {self.text.strip()}"


# (model file, construct) -> why it is not fixed yet. The list only shrinks: an entry that no
# longer matches anything fails `test_allow_list_has_no_stale_entries`. Empty since issue #27
# (71 findings in 31 models before it).
ALLOWED: dict[tuple[str, str], str] = {}


def _blank(match: re.Match[str]) -> str:
    """The match replaced by spaces, newlines kept (line numbers stay right)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def strip_comments(text: str) -> str:
    """Jinja comments and SQL `--` comments (outside string literals) blanked out."""
    text = re.sub(r"\{#.*?#\}", _blank, text, flags=re.DOTALL)
    lines = []
    for line in text.split("\n"):
        quoted = False
        for index, char in enumerate(line):
            if char == "'":
                quoted = not quoted
            elif not quoted and line.startswith("--", index):
                line = line[:index]
                break
        lines.append(line)
    return "\n".join(lines)


def _jinja_end(text: str, start: int) -> int:
    """Index just past the Jinja tag opening at `start` (`{{` or `{%`): quoted strings and
    nested braces (a dict in a config call) are skipped over."""
    closing = "}}" if text.startswith("{{", start) else "%}"
    index, depth = start + 2, 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = text.find(char, index + 1)
            if index < 0:
                return len(text)
        elif char == "{":
            depth += 1
        elif depth and char == "}":
            depth -= 1
        elif text.startswith(closing, index):
            return index + 2
        index += 1
    return len(text)


def strip_jinja(text: str) -> str:
    """Jinja statements and expressions blanked out: the SQL text around them."""
    pieces, index = [], 0
    for match in re.finditer(r"\{\{|\{%", text):
        if match.start() < index:
            continue
        end = _jinja_end(text, match.start())
        pieces += [text[index : match.start()], re.sub(r"[^\n]", " ", text[match.start() : end])]
        index = end
    return "".join([*pieces, text[index:]])


def scan_text(path: str, text: str) -> list[Finding]:
    """Every denylisted construct in a model's text, by line."""
    code = strip_comments(text)
    views = {False: code.split("\n"), True: strip_jinja(code).split("\n")}
    originals = text.split("\n")
    findings = []
    for construct in DENYLIST:
        for number, line in enumerate(views[construct.sql_only], start=1):
            if construct.regex.search(line):
                findings.append(Finding(path, number, construct.name, originals[number - 1]))
    return sorted(findings, key=lambda finding: (finding.path, finding.line, finding.construct))


def model_files() -> list[Path]:
    return sorted((PROJECT_DIR / "models").rglob("*.sql"))


def all_findings() -> list[Finding]:
    findings = []
    for path in model_files():
        relative = str(path.relative_to(PROJECT_DIR))
        findings += scan_text(relative, path.read_text(encoding="utf-8"))
    return findings


@pytest.mark.parametrize("construct", DENYLIST, ids=lambda construct: construct.name)
def test_each_pattern_flags_its_example(construct: Construct) -> None:
    findings = scan_text("example.sql", construct.example)
    assert [finding.construct for finding in findings if finding.construct == construct.name]


def test_comments_and_jinja_python_are_not_flagged() -> None:
    text = (
        "-- as not materialized, qualify, string_agg(x)\n"
        "{# unnest([1]) and varchar #}\n"
        "select cast('{{ run_started_at.strftime(\"%Y\") }}' as timestamp) as t,\n"
        "    {{ arg_min_by('a', [('b', 'b')]) }} as a, m[k] as v, 'http://x' as url\n"
        "from t -- qualify\n"
    )
    assert scan_text("example.sql", text) == []


def test_models_have_no_duckdb_only_sql() -> None:
    files = model_files()
    assert len(files) > 50, f"found only {len(files)} SQL models under {PROJECT_DIR}"
    findings = [
        finding for finding in all_findings() if (finding.path, finding.construct) not in ALLOWED
    ]
    assert not findings, "DuckDB-only SQL in models (use a macros/cross_db macro):\n" + "\n".join(
        f"{finding}  -> {next(c.instead for c in DENYLIST if c.name == finding.construct)}"
        for finding in findings
    )


def test_allow_list_has_no_stale_entries() -> None:
    present = {(finding.path, finding.construct) for finding in all_findings()}
    stale = sorted(set(ALLOWED) - present)
    assert not stale, f"fixed, remove from ALLOWED: {stale}"


# Contract types both adapters accept and alias alike: `string` is TEXT (= VARCHAR) on DuckDB
# and STRING on Spark, while a bare `varchar` is refused by Spark (DATATYPE_MISSING_SIZE).
PORTABLE_TYPES = re.compile(
    r"(bigint|boolean|date|double|integer|string|timestamp|decimal\(\d+, ?\d+\))", re.IGNORECASE
)


def test_contract_types_are_portable() -> None:
    found = []
    for path in sorted((PROJECT_DIR / "models").rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            declared = re.match(r"\s*data_type:\s*(.+?)\s*$", line)
            if declared and not PORTABLE_TYPES.fullmatch(declared.group(1).strip("'\"")):
                found.append(f"{path.relative_to(PROJECT_DIR)}:{number}: {declared.group(1)}")
    assert not found, (
        "contract types that are not portable (use string, bigint, ...):\n" + "\n".join(found)
    )
