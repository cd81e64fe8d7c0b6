"""`segwarehouse doctor`: read a landing folder before any build and say what the build will do.

Doctor does not re-implement staging. It runs the real thing on the user's folder: `dbt build`
of the staging selection (the raw-contract hook, the base and stg models, audit.quarantined_rows,
audit.source_reconciliation and their tests) into a throw-away DuckDB file in a temp folder,
then reads what that build wrote. The per-column parse-failure rates and date ranges come from
the staging macros themselves: every `parse_*('source.<column>')` / `normalize_email(...)` call
in a base model (read from dbt's manifest) is compiled by dbt (`dbt compile --inline`) into a
profile query over the raw views the hook registered. The per-source quarantine limits are the
ones `segwarehouse refresh` applies (segwarehouse.publish.quarantine_rate_checks).

What doctor adds of its own is a pre-read of each landing file's header (the hook stops at the
first missing column; doctor lists them all, and the columns it ignores) and the verdict.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from segwarehouse import publish
from segwarehouse.dbt_runner import DbtInvocation, parse_state_kept, saved_parse_state
from segwarehouse.settings import Settings, find_project_dir, pseudonym_key_env

# The staging selection (selector `staging_without_quarantine_gate` in selectors.yml): seeds
# staging reads, the raw-contract hook, base and stg models, the audit models, the per-source
# quarantine limits, and their data tests (what `dbt build` runs first; a failure here fails
# the whole build). Without dbt build's own quarantine gate: doctor applies the same limits
# itself (publish.quarantine_rate_checks) and reports every source, not only the first stop.
STAGING_BUILD = (
    "build",
    "--selector",
    "staging_without_quarantine_gate",
    "--exclude-resource-type",
    "unit_test",
)
WAREHOUSE_NAME = "doctor"
# Doctor keeps dbt's parse states (dbt_runner.saved_parse_state) in doctor/ under dbt's target
# folder ($DBT_TARGET_PATH, else <project>/target), so a second doctor run on the same
# settings parses only what changed.
PARSE_CACHE_FOLDER = "doctor"
# Below this share of a source's rows, a reason code or a parse failure is the ordinary dirt
# of a real export (the demo data's largest is 0.7 %: order lines of quarantined orders);
# above it, it is usually a format or a setting, so doctor warns.
NOISE_SHARE = 0.01
# Macros of the base models whose failures doctor profiles per raw column.
PROFILED_MACROS = ("parse_timestamp_utc", "parse_date", "parse_amount", "parse_integer")
EMAIL_MACRO = "normalize_email"
_CALL = re.compile(r"\b(" + "|".join((*PROFILED_MACROS, EMAIL_MACRO)) + r")\('source\.(\w+)'\)")
_PART = "-- doctor:part "

VERDICT_OK = "ok"
VERDICT_WARNINGS = "warnings"
VERDICT_FAIL = "would fail"
EXIT_OK = 0
EXIT_WOULD_FAIL = 1

# One line per reason code: seeds/quality/quarantine_reason_hints.csv, the table dbt build's
# quarantine gate quotes too (a row with a source_name overrides the generic one for it).
HINTS_SEED = Path("seeds") / "quality" / "quarantine_reason_hints.csv"
NO_HINT = "see docs/raw_data_contract.md"


@functools.cache
def reason_hints(project_dir: Path) -> dict[tuple[str, str], str]:
    """(source_name or '', reason) -> what to do, from the hints seed of `project_dir`."""
    with (project_dir / HINTS_SEED).open(encoding="utf-8", newline="") as handle:
        return {
            (row["source_name"], row["quarantine_reason"]): row["what_to_do"]
            for row in csv.DictReader(handle)
        }


def reason_hint(source: str, reason: str, project_dir: Path | None = None) -> str:
    """The one-line hint for a reason code, the source's own line first."""
    hints = reason_hints((project_dir or find_project_dir()).resolve())
    return hints.get((source, reason)) or hints.get(("", reason), NO_HINT)


# --- the contract, from dbt's manifest ----------------------------------------------------------


@dataclass(frozen=True)
class TypedColumn:
    """A raw column a base model parses (or normalises, for emails) with a staging macro."""

    column: str
    macro: str

    @property
    def kind(self) -> str:
        return {
            "parse_timestamp_utc": "timestamp",
            "parse_date": "date",
            "parse_amount": "number",
            "parse_integer": "integer",
            EMAIL_MACRO: "email",
        }[self.macro]


@dataclass(frozen=True)
class ContractSource:
    """One landing file of the raw-data contract (a source table in the sources YAML)."""

    source: str
    table: str
    landing_file: str
    required_file: bool
    columns: tuple[str, ...]
    required_columns: tuple[str, ...]
    typed: tuple[TypedColumn, ...]


def contract_from_manifest(manifest: Mapping[str, Any]) -> list[ContractSource]:
    """The landing files, their columns and the typed columns staging parses, as dbt read them."""
    typed: dict[tuple[str, str], list[TypedColumn]] = {}
    for node in manifest["nodes"].values():
        if node.get("resource_type") != "model" or not node["name"].startswith("base_"):
            continue
        for source, table in node.get("sources", []):
            found = typed.setdefault((source, table), [])
            for macro, column in _CALL.findall(node.get("raw_code", "")):
                if TypedColumn(column, macro) not in found:
                    found.append(TypedColumn(column, macro))
    contract = []
    for node in manifest["sources"].values():
        meta = node.get("meta") or {}
        if not meta.get("landing_file"):
            continue
        columns = node.get("columns") or {}
        contract.append(
            ContractSource(
                source=node["source_name"],
                table=node["name"],
                landing_file=meta["landing_file"],
                required_file=bool(meta.get("required_file")),
                columns=tuple(columns),
                required_columns=tuple(
                    name
                    for name, column in columns.items()
                    if (column.get("meta") or {}).get("required")
                ),
                typed=tuple(typed.get((node["source_name"], node["name"]), [])),
            )
        )
    return sorted(contract, key=lambda item: (not item.required_file, item.landing_file))


# --- the landing files --------------------------------------------------------------------------


def landing_paths(raw_dir: Path, name: str) -> list[Path]:
    """A source's landing files: <name>.csv / .parquet, or the files of the folder <name>/."""
    singles = [raw_dir / f"{name}.{ext}" for ext in ("csv", "parquet")]
    found = [path for path in singles if path.is_file()]
    folder = raw_dir / name
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if p.suffix in (".csv", ".parquet"))
    return found


def file_columns(path: Path) -> list[str]:
    """A landing file's column names: the CSV header read as the contract reads it (commas,
    quotes and a BOM stripped), or the Parquet schema."""
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            rows = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
        return [str(row[0]) for row in rows]
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    names = [name.strip().strip("\ufeff").strip('"').strip() for name in header.split(",")]
    return [name for name in names if name]


# --- the report ---------------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    """Parse results of one typed raw column, over every raw row."""

    column: str
    kind: str
    present: int = 0
    failed: int = 0
    min: str | None = None
    max: str | None = None

    @property
    def failure_rate(self) -> float:
        return self.failed / self.present if self.present else 0.0


@dataclass
class SourceReport:
    """What doctor found for one landing file."""

    name: str
    required: bool
    contract_columns: int = 0
    files: list[str] = field(default_factory=list)
    columns_found: list[str] = field(default_factory=list)
    missing_required_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    raw_rows: int | None = None
    dispositions: dict[str, int] = field(default_factory=dict)
    quarantine_rate: float | None = None
    quarantine_limit: float | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    profiles: list[ColumnProfile] = field(default_factory=list)
    main_timestamp: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.files)


@dataclass
class Finding:
    """One line of the verdict: 'fail' or 'warning', what and what to do."""

    level: str
    message: str


@dataclass
class DoctorReport:
    """Everything doctor found, the verdict and the exit code."""

    raw_dir: str
    build_seconds: float
    total_seconds: float
    build_succeeded: bool
    build_errors: list[str]
    sources: list[SourceReport]
    settings: dict[str, Any]
    findings: list[Finding]

    @property
    def verdict(self) -> str:
        levels = {finding.level for finding in self.findings}
        if "fail" in levels:
            return VERDICT_FAIL
        return VERDICT_WARNINGS if levels else VERDICT_OK

    @property
    def exit_code(self) -> int:
        return EXIT_WOULD_FAIL if self.verdict == VERDICT_FAIL else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for source, report in zip(data["sources"], self.sources, strict=True):
            source["found"] = report.found
            for profile, column in zip(source["profiles"], report.profiles, strict=True):
                profile["failure_rate"] = column.failure_rate
        data["verdict"] = self.verdict
        data["exit_code"] = self.exit_code
        return data


# --- running dbt --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbtCall:
    """Where one doctor run's dbt invocations read and write."""

    project_dir: Path
    raw_dir: Path
    work_dir: Path
    dbt_vars: Mapping[str, Any]

    @property
    def warehouse(self) -> Path:
        return self.work_dir / f"{WAREHOUSE_NAME}.duckdb"

    @property
    def parse_cache(self) -> Path:
        """The folder of doctor's saved parse states."""
        target = Path(os.environ.get("DBT_TARGET_PATH") or self.project_dir / "target")
        return target / PARSE_CACHE_FOLDER

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """dbt in a child process, output captured; target and logs in the work folder. Run
        from the work folder, so the profile names the warehouse by its file name alone and a
        saved parse state fits every doctor run (`parse_cache`)."""
        # The throw-away build publishes nothing: without a configured key, a throw-away one.
        key_env = pseudonym_key_env(
            Settings.from_env(self.project_dir), scratch_key=self.work_dir / ".pseudonym.key"
        )
        invocation = DbtInvocation(
            self.project_dir,
            raw_dir=self.raw_dir,
            warehouse=self.warehouse,
            target_path=self.work_dir / "target",
            log_path=self.work_dir / "logs",
            profiles_dir=self.project_dir,
            dbt_vars=self.dbt_vars,
            extra_env=key_env,
            working_dir=self.work_dir,
        )
        with parse_state_kept(invocation, saved_parse_state(self.parse_cache, invocation)):
            return invocation.run(*args, "--no-use-colors", capture=True)


def build_errors(output: str, run_results: Path) -> list[str]:
    """What stopped the build: the failed nodes with their message, or dbt's error text (the
    raw-contract hook fails before any node runs)."""
    errors = []
    if run_results.is_file():
        for node in json.loads(run_results.read_text())["results"]:
            if node.get("status") in {"error", "fail"}:
                message = " ".join(str(node.get("message") or "").split())
                errors.append(f"{node['unique_id']}: {message}")
    if errors:
        return errors
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if "Encountered an error" in line]
    if not starts:
        return [line.strip() for line in lines if "Error" in line][:5] or lines[-5:]
    message = []
    for line in lines[starts[-1] + 1 :]:
        if line.strip().startswith(">"):
            break
        if line.strip():
            message.append(line.strip())
    return [" ".join(message)]


def profile_sql(contract: Sequence[ContractSource]) -> str:
    """The Jinja of doctor's profile queries (one part per source, plus the settings in
    effect): compiled by dbt, so every parse uses the staging macros."""
    settings = {
        "as_of_date": "as_of_date()",
        "earliest_plausible_date": "var('segments__earliest_plausible_date')",
        "order_statuses": "var('segments__order_statuses')",
        "reporting_currency": "var('segments__reporting_currency')",
        "future_tolerance_hours": "var('segments__future_tolerance_hours')",
    }
    pairs = ", ".join(f"{key!r}: {value}" for key, value in settings.items())
    parts = [f"{_PART}settings\n-- {{{{ tojson({{{pairs}}}) }}}}"]
    for item in contract:
        expressions = ["count(*) as raw_rows"]
        for typed in item.typed:
            column = typed.column
            present = f"{{{{ clean_text('{column}') }}}}"
            expressions.append(f'count({present}) as "{column}:present"')
            if typed.macro == EMAIL_MACRO:
                failed = f"not {{{{ is_valid_email({EMAIL_MACRO}('{column}')) }}}}"
                expressions.append(
                    f"count(*) filter (where {present} is not null and {failed}) "
                    f'as "{column}:failed"'
                )
                continue
            parsed = f"{{{{ {typed.macro}('{column}') }}}}"
            expressions.append(
                f"count(*) filter (where {present} is not null and {parsed} is null) "
                f'as "{column}:failed"'
            )
            if typed.kind in {"timestamp", "date"}:
                expressions.append(f'cast(min({parsed}) as varchar) as "{column}:min"')
                expressions.append(f'cast(max({parsed}) as varchar) as "{column}:max"')
        parts.append(
            f"{_PART}{item.landing_file}\nselect\n    "
            + ",\n    ".join(expressions)
            + f"\nfrom {{{{ source('{item.source}', '{item.table}') }}}}"
        )
    return "\n".join(parts)


def compile_parts(call: DbtCall, jinja: str) -> dict[str, str]:
    """Compile doctor's Jinja with dbt (the project's macros and vars) and split it in parts."""
    completed = call.run("compile", "--inline", jinja, "--output", "json", "--quiet")
    if completed.returncode != 0:
        raise RuntimeError(
            "dbt compile of doctor's profile query failed: "
            + " ".join(build_errors(completed.stdout + completed.stderr, Path("/nonexistent")))
        )
    compiled = json.loads(completed.stdout[completed.stdout.index("{") :])["compiled"]
    parts = {}
    for chunk in compiled.split(_PART)[1:]:
        name, _, body = chunk.partition("\n")
        parts[name.strip()] = body
    return parts


# --- reading the throw-away build ---------------------------------------------------------------


def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse), read_only=True)
    # The profile's session settings: timestamps with an offset parse as the build parses them.
    con.execute("set TimeZone = 'UTC'")
    return con


def _profile_source(
    con: duckdb.DuckDBPyConnection, report: SourceReport, item: ContractSource, sql: str
) -> None:
    try:
        relation = con.execute(sql)
    except duckdb.CatalogException:
        return  # the hook stopped before registering this source
    names = [column[0] for column in relation.description]
    values = dict(zip(names, relation.fetchone() or (), strict=False))
    report.raw_rows = int(values["raw_rows"])
    for typed in item.typed:
        report.profiles.append(
            ColumnProfile(
                column=typed.column,
                kind=typed.kind,
                present=int(values[f"{typed.column}:present"]),
                failed=int(values[f"{typed.column}:failed"]),
                min=values.get(f"{typed.column}:min"),
                max=values.get(f"{typed.column}:max"),
            )
        )
    report.main_timestamp = next(
        (typed.column for typed in item.typed if typed.kind == "timestamp"), None
    )


def _read_reconciliation(con: duckdb.DuckDBPyConnection, reports: dict[str, SourceReport]) -> None:
    columns = ("staged", "quarantined", "duplicate", "superseded", "not_yet_visible")
    rows = con.execute(
        "select source_name, raw_rows, "
        + ", ".join(f"{name}_rows" for name in columns)
        + ", quarantine_rate from audit.source_reconciliation"
    ).fetchall()
    for source, raw, *counts, rate in rows:
        report = reports[source]
        report.raw_rows = int(raw)
        report.dispositions = dict(zip(columns, map(int, counts), strict=True))
        report.quarantine_rate = None if rate is None else float(rate)
    for source, reason, count in con.execute(
        "select source_name, quarantine_reason, count(*) from audit.quarantined_rows "
        "group by all order by 3 desc, 2"
    ).fetchall():
        reports[source].reasons[reason] = int(count)


def _quarantine_limits(
    con: duckdb.DuckDBPyConnection, reports: dict[str, SourceReport], default_limit: float
) -> None:
    limits = dict(
        con.execute(
            f"select source_name, max_quarantine_rate from {publish.QUARANTINE_LIMITS_TABLE}"
        ).fetchall()
    )
    for name, report in reports.items():
        report.quarantine_limit = float(limits.get(name, default_limit))


def _order_settings(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> None:
    """Currencies and statuses as staging read them (every raw order, usable or not), the
    latest usable order, and the currency seed."""
    base = "staging.base_commerce__orders"
    settings["currencies_found"] = dict(
        con.execute(
            f"select currency_code, count(*) from {base} group by 1 order by 2 desc"
        ).fetchall()
    )
    settings["currency_rates"] = {
        code: float(rate)
        for code, rate in con.execute(
            "select currency_code, rate_to_reporting_currency from reference.currency_rates"
        ).fetchall()
    }
    settings["statuses_found"] = dict(
        con.execute(
            f"select coalesce(status, '(empty)'), count(*) from {base} group by 1 order by 2 desc"
        ).fetchall()
    )
    latest = con.execute(
        f"select cast(max(order_ts) as date) from {base} where quarantine_reason is null"
    ).fetchone()
    settings["latest_order_date"] = str(latest[0]) if latest and latest[0] else None


# --- the verdict --------------------------------------------------------------------------------


_SETTINGS_REASONS = ("unknown_currency", "unknown_status")


def _share(count: int, total: int | None) -> float:
    return count / total if total else 0.0


def _source_findings(report: SourceReport) -> list[Finding]:
    name = report.name
    if not report.found:
        if report.required:
            return [Finding("fail", f"{name}: required file missing")]
        return []
    findings = []
    if report.missing_required_columns:
        findings.append(
            Finding(
                "fail",
                f"{name}: required column(s) missing: "
                + ", ".join(report.missing_required_columns),
            )
        )
    if report.missing_optional_columns:
        findings.append(
            Finding(
                "warning",
                f"{name}: {len(report.missing_optional_columns)} of {report.contract_columns} "
                "contract columns absent, read as null: "
                + ", ".join(report.missing_optional_columns),
            )
        )
    if report.extra_columns:
        findings.append(
            Finding(
                "warning",
                f"{name}: column(s) not in the contract, ignored: "
                + ", ".join(report.extra_columns),
            )
        )
    for profile in report.profiles:
        if profile.failure_rate >= NOISE_SHARE:
            what = "invalid" if profile.kind == "email" else f"not a valid {profile.kind}"
            findings.append(
                Finding(
                    "warning",
                    f"{name}.{profile.column}: {profile.failed:,} of {profile.present:,} "
                    f"values ({profile.failure_rate:.1%}) {what}",
                )
            )
    for reason, count in report.reasons.items():
        # Unknown currencies and statuses get one line each, with the values (settings).
        if reason in _SETTINGS_REASONS and name == "orders":
            continue
        if _share(count, report.raw_rows) >= NOISE_SHARE:
            findings.append(
                Finding(
                    "warning",
                    f"{name}: {count:,} row(s) ({_share(count, report.raw_rows):.1%}) quarantined "
                    f"as {reason}: {reason_hint(name, reason)}",
                )
            )
    return findings


def _settings_findings(settings: Mapping[str, Any]) -> list[Finding]:
    findings = []
    unknown = settings.get("unknown_currencies") or {}
    total = sum((settings.get("currencies_found") or {}).values())
    if unknown and _share(sum(unknown.values()), total) >= NOISE_SHARE:
        findings.append(
            Finding(
                "warning",
                "currencies not in seeds/reference/currency_rates.csv: "
                + ", ".join(f"{code} ({count:,})" for code, count in unknown.items())
                + ": add a row per currency, then dbt seed",
            )
        )
    statuses = settings.get("unknown_statuses") or {}
    total = sum((settings.get("statuses_found") or {}).values())
    if statuses and _share(sum(statuses.values()), total) >= NOISE_SHARE:
        findings.append(
            Finding(
                "warning",
                "order statuses not in var segments__order_statuses: "
                + ", ".join(f"{status} ({count:,})" for status, count in statuses.items())
                + f": {reason_hint('orders', 'unknown_status').split(': ', 1)[1]}",
            )
        )
    reporting = settings.get("reporting_currency")
    rate = (settings.get("currency_rates") or {}).get(reporting)
    if reporting and settings.get("currency_rates") and rate != 1.0:
        findings.append(
            Finding(
                "warning",
                f"segments__reporting_currency is {reporting} but its rate in "
                f"seeds/reference/currency_rates.csv is {rate}: the rates must convert into "
                f"{reporting} (its own rate 1.0)",
            )
        )
    return findings


# --- the run ------------------------------------------------------------------------------------


def _inspect_files(raw_dir: Path, item: ContractSource) -> SourceReport:
    report = SourceReport(
        name=item.landing_file, required=item.required_file, contract_columns=len(item.columns)
    )
    paths = landing_paths(raw_dir, item.landing_file)
    report.files = [str(path) for path in paths]
    found: list[str] = []
    for path in paths:
        for column in file_columns(path):
            if column not in found:
                found.append(column)
    lowered = {column.lower() for column in found}
    report.columns_found = found
    if paths:
        report.missing_required_columns = [
            c for c in item.required_columns if c.lower() not in lowered
        ]
        report.missing_optional_columns = [
            c for c in item.columns if c not in item.required_columns and c.lower() not in lowered
        ]
        contract = {c.lower() for c in item.columns}
        report.extra_columns = [c for c in found if c.lower() not in contract]
    return report


def _settings(
    parts: Mapping[str, str], con: duckdb.DuckDBPyConnection | None, reports: list[SourceReport]
) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(parts["settings"].strip().removeprefix("--").strip())
    earliest = [
        (profile.min, f"{report.name}.{profile.column}")
        for report in reports
        for profile in report.profiles
        if profile.kind == "timestamp" and profile.min
    ]
    settings["earliest_timestamp"], settings["earliest_timestamp_column"] = (
        min(earliest) if earliest else (None, None)
    )
    settings["rows_before_earliest_plausible_date"] = sum(
        report.reasons.get("implausibly_old_timestamp", 0) for report in reports
    )
    if con is not None:
        _order_settings(con, settings)
        rates = settings["currency_rates"]
        settings["unknown_currencies"] = {
            code: count for code, count in settings["currencies_found"].items() if code not in rates
        }
        settings["unknown_statuses"] = {
            status: count
            for status, count in settings["statuses_found"].items()
            if status not in settings["order_statuses"]
        }
    return settings


@dataclass
class _Staged:
    """What the throw-away build left: per-source reports, settings, the audit's failures."""

    reports: list[SourceReport]
    settings: dict[str, Any]
    audit_failures: list[str]


def _read_build(
    call: DbtCall, contract: list[ContractSource], parts: Mapping[str, str], default_limit: float
) -> _Staged:
    reports = [_inspect_files(call.raw_dir, item) for item in contract]
    by_name = {report.name: report for report in reports}
    if not call.warehouse.is_file():
        return _Staged(reports, _settings(parts, None, reports), [])
    with _connect(call.warehouse) as con:
        for item, report in zip(contract, reports, strict=True):
            _profile_source(con, report, item, parts[item.landing_file])
        if not _has_audit(con):  # the build stopped before staging
            return _Staged(reports, _settings(parts, None, reports), [])
        _read_reconciliation(con, by_name)
        _quarantine_limits(con, by_name, default_limit)
        # The per-source limits exactly as `segwarehouse refresh` applies them.
        audit = publish.quarantine_rate_checks(con, default_limit, [])
        return _Staged(reports, _settings(parts, con, reports), audit)


_AUDIT_SOURCE = re.compile(r"^volume: (\w+) quarantine rate")


def _audit_findings(audit_failures: list[str], reports: list[SourceReport]) -> list[Finding]:
    required = {report.name for report in reports if report.required}
    findings = []
    for line in audit_failures:
        match = _AUDIT_SOURCE.match(line)
        stops = (
            "a required source mostly quarantined: dbt build and segwarehouse refresh stop"
            if match and match.group(1) in required
            else "segwarehouse refresh stops at its audit (exit 3, nothing published)"
        )
        # Publish's pointer to the work warehouse does not apply to doctor's throw-away file.
        message = line.removeprefix("volume: ").split("; see audit.quarantined_rows")[0]
        findings.append(Finding("fail", f"{message} -> {stops}"))
    return findings


def diagnose(
    raw_dir: Path,
    project_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    default_quarantine_limit: float = publish.DEFAULT_MAX_QUARANTINE_RATE,
    work_dir: Path | None = None,
) -> DoctorReport:
    """Run the throw-away staging build on `raw_dir` and report what the real build would do."""
    raw_dir = raw_dir.resolve()
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"landing folder {raw_dir} does not exist (--raw-dir)")
    with tempfile.TemporaryDirectory(prefix="segwarehouse-doctor-", dir=work_dir) as tmp:
        call = DbtCall(project_dir.resolve(), raw_dir, Path(tmp), dict(dbt_vars or {}))
        started = time.perf_counter()
        built = call.run(*STAGING_BUILD)
        seconds = time.perf_counter() - started
        results = call.work_dir / "target" / "run_results.json"
        errors = [] if built.returncode == 0 else build_errors(built.stdout + built.stderr, results)
        manifest = call.work_dir / "target" / "manifest.json"
        if not manifest.is_file():
            raise RuntimeError("dbt could not parse the project: " + " ".join(errors))
        contract = contract_from_manifest(json.loads(manifest.read_text()))
        parts = compile_parts(call, profile_sql(contract))
        staged = _read_build(call, contract, parts, default_quarantine_limit)
    findings = [finding for report in staged.reports for finding in _source_findings(report)]
    findings += _audit_findings(staged.audit_failures, staged.reports)
    findings += _settings_findings(staged.settings)
    findings += [Finding("fail", f"dbt build stops: {error}") for error in errors]
    return DoctorReport(
        raw_dir=str(raw_dir),
        build_seconds=round(seconds, 1),
        total_seconds=round(time.perf_counter() - started, 1),
        build_succeeded=built.returncode == 0,
        build_errors=errors,
        sources=staged.reports,
        settings=staged.settings,
        findings=findings,
    )


def _has_audit(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the audit tables got built (the raw-contract hook stops the build before)."""
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'audit' "
        "and table_name in ('source_reconciliation', 'quarantined_rows')"
    ).fetchone()
    return bool(found and found[0] == 2)


# --- the text report ----------------------------------------------------------------------------


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counts.items()) or "none"


def _source_lines(report: SourceReport) -> list[str]:
    kind = "required" if report.required else "optional"
    if not report.found:
        state = "MISSING: the build stops" if report.required else "absent (read as empty)"
        return [f"{report.name} ({kind}): {state}"]
    paths = [Path(file) for file in report.files]
    where = ", ".join(path.name for path in paths)
    if paths[0].stem != report.name:  # a folder of deliveries
        where = f"{report.name}/ ({len(paths)} files: {paths[0].name} .. {paths[-1].name})"
    lines = [f"{report.name} ({kind}): found {where}"]
    present = (
        report.contract_columns
        - len(report.missing_required_columns)
        - len(report.missing_optional_columns)
    )
    columns = f"  columns: {present} of {report.contract_columns} contract columns"
    for label, names in (
        ("MISSING REQUIRED", report.missing_required_columns),
        ("absent (read as null)", report.missing_optional_columns),
        ("not in the contract (ignored)", report.extra_columns),
    ):
        if names:
            columns += f"; {label}: {', '.join(names)}"
    lines.append(columns)
    if report.raw_rows is None:
        lines.append("  rows: not read (the build stopped before this file)")
        return lines
    rows = f"  rows: {report.raw_rows:,}"
    if report.dispositions:
        rows += f" = {_counts(report.dispositions)}"
    if report.quarantine_rate is not None and report.quarantine_limit is not None:
        rows += (
            f"; quarantine rate {report.quarantine_rate:.2%} (limit {report.quarantine_limit:.2%})"
        )
    lines.append(rows)
    if report.profiles:
        lines.append(
            "  parse failures (failed of non-empty): "
            + ", ".join(
                f"{p.column} ({p.kind}) {p.failed:,} of {p.present:,} = {p.failure_rate:.1%}"
                for p in report.profiles
            )
        )
    main = next((p for p in report.profiles if p.column == report.main_timestamp), None)
    if main is not None:
        lines.append(f"  date range of {main.column}: {main.min or '-'} .. {main.max or '-'}")
    for reason, count in report.reasons.items():
        lines.append(f"  quarantined {reason}: {count:,} -> {reason_hint(report.name, reason)}")
    return lines


def _settings_lines(settings: Mapping[str, Any]) -> list[str]:
    lines = ["settings for this data (dbt vars; pass with --vars or set in dbt_project.yml):"]
    latest = settings.get("latest_order_date")
    lines.append(
        f"  as_of_date: in effect {settings.get('as_of_date')}; latest usable order "
        f"{latest or '-'}" + (f" -> --vars '{{as_of_date: \"{latest}\"}}'" if latest else "")
    )
    lines.append(
        f"  segments__earliest_plausible_date: {settings.get('earliest_plausible_date')}; "
        f"earliest timestamp found {settings.get('earliest_timestamp') or '-'}"
        + (
            f" ({settings['earliest_timestamp_column']})"
            if settings.get("earliest_timestamp_column")
            else ""
        )
        + f"; rows before it (implausibly_old_timestamp): "
        f"{settings.get('rows_before_earliest_plausible_date', 0):,}"
    )
    if "currencies_found" in settings:
        lines.append(
            f"  currencies (reporting {settings.get('reporting_currency')}): found "
            f"{_counts(settings['currencies_found'])}; not in "
            f"seeds/reference/currency_rates.csv: {_counts(settings['unknown_currencies'])}"
        )
        lines.append(
            f"  order statuses (var segments__order_statuses: "
            f"{', '.join(settings.get('order_statuses') or [])}): found "
            f"{_counts(settings['statuses_found'])}; not accepted: "
            f"{_counts(settings['unknown_statuses'])}"
        )
    return lines


def render_text(report: DoctorReport) -> list[str]:
    """The human-readable report, one line per item, the verdict last."""
    state = "succeeded" if report.build_succeeded else "FAILED"
    lines = [
        f"segwarehouse doctor: {report.raw_dir}",
        f"throw-away staging build (dbt build of the staging selection): {state} in "
        f"{report.build_seconds:.1f}s (doctor in all {report.total_seconds:.1f}s)",
        "",
    ]
    for source in report.sources:
        lines += _source_lines(source)
    lines += ["", *_settings_lines(report.settings), ""]
    fails = [f for f in report.findings if f.level == "fail"]
    warnings = [f for f in report.findings if f.level == "warning"]
    for finding in fails + warnings:
        lines.append(f"{'FAIL' if finding.level == 'fail' else 'warning'}: {finding.message}")
    counts = f"{len(fails)} failure(s), {len(warnings)} warning(s)"
    lines.append(f"verdict: {report.verdict} ({counts}); exit code {report.exit_code}")
    return lines


def run_command(
    raw_dir: Path, project_dir: Path, vars_text: str | None, as_json: bool, limit: float
) -> int:
    """`segwarehouse doctor`: print the report (text or JSON) and return its exit code."""
    try:
        dbt_vars = yaml.safe_load(vars_text) if vars_text else None
    except yaml.YAMLError as error:
        raise ValueError(f"--vars is not YAML: {error}") from None
    if dbt_vars is not None and not isinstance(dbt_vars, dict):
        raise ValueError(f"--vars must be a YAML mapping, got {vars_text!r}")
    try:
        report = diagnose(raw_dir, project_dir, dbt_vars, limit)
    except RuntimeError as error:
        print(f"segwarehouse doctor: error: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print("\n".join(render_text(report)))
    return report.exit_code
