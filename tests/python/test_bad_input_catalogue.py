"""The bad-input catalogue: every kind of malformed landing data and exactly what it does.

One table, CASES. Each case is a mutation of a small generated landing folder (300 people) and
one of three behaviours:

- error: the build stops in the raw-contract hook with one line naming the file (and column or
  line) and what to do; no Python traceback;
- quarantine: the rows are quarantined with a specific reason code (or counted as duplicate /
  not yet visible), nothing else moves, and the source still reconciles exactly
  (raw = staged + quarantined + duplicate + superseded + not_yet_visible);
- audit: `segwarehouse refresh` fails its audit (exit 3) naming the source, both counts and
  the threshold, and the serving file stays byte-identical.

Builds are shared to keep the module fast: all row-level defects live in one folder (each
asserted by its own marked rows and reason code), the volume defects in another, and the
contract errors fail in the on-run-start hook before any model runs. docs/data_quality.md
lists the same table.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cli_process import run_segwarehouse
from conftest import BUILD_VARS, END_DATE, Workspace
from segwarehouse import publish
from segwarehouse.doctor import STAGING_BUILD
from segwarehouse.generator import generate

PEOPLE = 300
SEED = 5
# The staging selection `segwarehouse doctor` builds: contract hook, staging, the audit models
# and the quarantine limits, with their data tests.
STAGING = STAGING_BUILD
RECONCILED = (
    "select source_name, raw_rows, staged_rows, quarantined_rows, duplicate_rows, "
    "superseded_rows, not_yet_visible_rows, is_reconciled from audit.source_reconciliation"
)


# --- the shared landing folders and builds ----------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in header} for row in rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Orders appended to the row-defect folder: order_id -> (changes to a valid order, expected
# row_status, expected quarantine_reason). A valid order is completed, USD 10.00, 2025-03-01.
ORDER_DEFECTS: dict[str, tuple[dict[str, str], str, str | None]] = {
    "DQ-WRONG-TOTAL": ({"order_total": "ten"}, "quarantined", "unparseable_order_total"),
    "DQ-WRONG-TS": ({"order_ts": "yesterday"}, "quarantined", "unparseable_order_ts"),
    "DQ-WRONG-DISCOUNT": (
        {"discount_amount": "n/a"},
        "quarantined",
        "unparseable_discount_amount",
    ),
    "DQ-FUTURE": ({"order_ts": "2099-01-01 00:00:00"}, "quarantined", "future_timestamp"),
    "DQ-LATER": ({"order_ts": "2026-07-01 06:00:00"}, "not_yet_visible", None),
    "DQ-NEGATIVE": ({"order_total": "-25.00"}, "quarantined", "negative_order_total"),
    "DQ-ABSURD": ({"order_total": "250000000"}, "quarantined", "absurd_order_total"),
    "DQ-CURRENCY": ({"currency": "XYZ"}, "quarantined", "unknown_currency"),
    "DQ-OK": ({}, "staged", None),
}
# Order lines of DQ-OK: line_number -> (quantity, expected row_status, reason).
LINE_DEFECTS = {"1": ("two", "quarantined", "unparseable_quantity"), "2": ("1", "staged", None)}
EXTRA_COLUMN = "sales_rep"


@dataclass
class Lab:
    """Lazily built landing folders and warehouses, shared by the cases of this module."""

    root: Path
    landing: Path

    def folder(self, name: str, mutate: Callable[[Path], None] | None = None) -> Workspace:
        """A copy of the generated landing folder, mutated; its own warehouse; shared target
        folder (so dbt parses the project once)."""
        base = self.root / name
        shutil.copytree(self.landing, base / "raw")
        if mutate:
            mutate(base / "raw")
        return Workspace(raw_dir=base / "raw", warehouse=base / "w.duckdb", scratch=self.root)

    def dbt(self, workspace: Workspace) -> str:
        """Run the staging build for `workspace`. dbt always writes one warehouse path, named
        as every suite workspace's is (the file name is the catalog dbt parses into the nodes:
        another name costs a full parse); the file is then moved to the workspace's own path."""
        shared = Workspace(workspace.raw_dir, self.root / "warehouse.duckdb", self.root)
        run = shared.dbt(*STAGING, dbt_vars=BUILD_VARS)
        if shared.warehouse.exists():
            shared.warehouse.replace(workspace.warehouse)
        return f"exit {run.returncode}\n{run.output}" if run.returncode else ""

    def build(self, workspace: Workspace) -> Workspace:
        failed = self.dbt(workspace)
        assert not failed, failed[-4000:]
        return workspace

    @functools.cached_property
    def baseline(self) -> Workspace:
        return self.build(self.folder("baseline"))

    @functools.cached_property
    def rows(self) -> Workspace:
        return self.build(self.folder("rows", add_row_defects))

    @functools.cached_property
    def serving(self) -> Path:
        """The baseline, published through the audit (a first run: nothing to compare)."""
        serving = self.root / "serve" / "serving.duckdb"
        # Generated data, so synthetic, as the CLI marks it: the volume case's `refresh` over
        # it is then not refused as demo data over real data.
        code, record = publish.refresh(
            self.baseline.warehouse, serving, END_DATE, None, log=lambda _: None, synthetic=True
        )
        assert code == publish.EXIT_OK, record.failures
        assert "volume: no published run yet, source row counts not compared" in record.notes
        return serving

    @functools.cached_property
    def volume(self) -> tuple[subprocess.CompletedProcess[str], str, str]:
        """The volume defects built, then `segwarehouse refresh --skip-build` against the
        published baseline: (the command's result, serving checksum before, after)."""
        serving = self.serving
        workspace = self.build(self.folder("volume", add_volume_defects))
        before = sha256(serving)
        result = refresh_command(workspace, serving)
        return result, before, sha256(serving)

    def hook_error(self, name: str, mutate: Callable[[Path], None]) -> str:
        output = self.dbt(self.folder(name, mutate))
        assert output.startswith("exit "), "the build did not stop"
        return output


def refresh_command(workspace: Workspace, serving: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "SEGMENTS_RAW_DIR": str(workspace.raw_dir),
        "SEGMENTS_WAREHOUSE": str(workspace.warehouse),
        "SEGMENTS_SERVING": str(serving),
    }
    return run_segwarehouse("refresh", "--skip-build", env=env)


def add_row_defects(raw: Path) -> None:
    """Every row-level defect in one folder, on rows marked DQ-…; plus an extra column."""
    header, orders = read_rows(raw / "orders.csv")
    customer_id = next(row["customer_id"] for row in orders if row["customer_id"])
    valid = {
        "customer_id": customer_id,
        "order_ts": "2025-03-01 10:00:00",
        "channel": "web",
        "status": "completed",
        "currency": "USD",
        "order_total": "10.00",
        "discount_amount": "0",
    }
    added = [
        {**valid, **changes, "order_id": key} for key, (changes, _, _) in ORDER_DEFECTS.items()
    ]
    added += [  # a key conflict (the later version wins) and an exact duplicate
        {**valid, "order_id": "DQ-CONFLICT", "order_ts": "2025-01-01 10:00:00"},
        {
            **valid,
            "order_id": "DQ-CONFLICT",
            "order_ts": "2025-02-01 10:00:00",
            "order_total": "20",
        },
        {**valid, "order_id": "DQ-EXACT"},
        {**valid, "order_id": "DQ-EXACT"},
    ]
    rows = [{**row, EXTRA_COLUMN: "rep-1"} for row in orders + added]
    write_rows(raw / "orders.csv", [*header, EXTRA_COLUMN], rows)

    header, lines = read_rows(raw / "order_items.csv")
    product_id = lines[0]["product_id"]
    lines += [
        {
            "order_id": "DQ-OK",
            "line_number": n,
            "product_id": product_id,
            "quantity": quantity,
            "unit_price": "5.00",
        }
        for n, (quantity, _, _) in LINE_DEFECTS.items()
    ]
    write_rows(raw / "order_items.csv", header, lines)

    header, events = read_rows(raw / "web_events.csv")  # all-null column: no event_ts at all
    write_rows(raw / "web_events.csv", header, [{**row, "event_ts": ""} for row in events])


def add_volume_defects(raw: Path) -> None:
    """web_events 11x (new ids), campaign_events cut to ~5 %, products header only."""
    header, events = read_rows(raw / "web_events.csv")
    spiked = [
        {**row, "event_id": f"{row['event_id']}-{copy}" if row["event_id"] else ""}
        for copy in range(11)
        for row in events
    ]
    write_rows(raw / "web_events.csv", header, spiked)
    header, campaign = read_rows(raw / "campaign_events.csv")
    write_rows(raw / "campaign_events.csv", header, campaign[::20])
    header, _ = read_rows(raw / "products.csv")
    write_rows(raw / "products.csv", header, [])


def reconciliation(workspace: Workspace) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in workspace.query(RECONCILED)}


def statuses(workspace: Workspace, model: str, where: str) -> list[tuple]:
    return workspace.query(
        f"select row_status, quarantine_reason, count(*) from staging.{model} "
        f"where {where} group by all order by all"
    )


def assert_one_clear_line(output: str, *fragments: str) -> None:
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line with {fragments} in:\n{output[-3000:]}"


# --- the checks, one per case -----------------------------------------------------------------


def check_missing_file(lab: Lab) -> None:
    output = lab.hook_error("missing_file", lambda raw: (raw / "orders.csv").unlink())
    assert_one_clear_line(
        output, "required file 'orders' not found", "orders.csv or .parquet", "SEGMENTS_RAW_DIR"
    )


def check_missing_column(lab: Lab) -> None:
    def drop_order_ts(raw: Path) -> None:
        header, rows = read_rows(raw / "orders.csv")
        write_rows(raw / "orders.csv", [c for c in header if c != "order_ts"], rows)

    output = lab.hook_error("missing_column", drop_order_ts)
    assert_one_clear_line(
        output, "orders.csv has no column 'order_ts' (required)", "Add or rename the column"
    )


def check_empty_file(lab: Lab) -> None:
    output = lab.hook_error("empty_file", lambda raw: (raw / "orders.csv").write_bytes(b""))
    assert_one_clear_line(
        output, "orders.csv is empty (0 bytes)", "write at least the header line", "order_ts"
    )


def check_non_utf8(lab: Lab) -> None:
    def latin1_name(raw: Path) -> None:
        path = raw / "crm_customers.csv"
        lines = path.read_bytes().split(b"\n")
        fields = lines[6].split(b",")  # physical line 7 (the header is line 1)
        fields[3] = "Zoë".encode("cp1252")
        lines[6] = b",".join(fields)
        path.write_bytes(b"\n".join(lines))

    output = lab.hook_error("non_utf8", latin1_name)
    assert_one_clear_line(
        output,
        "crm_customers.csv is not UTF-8: line 7",
        "1 such line(s)",
        "Re-export the file as UTF-8",
    )


def check_extra_columns(lab: Lab) -> None:
    """Ignored: not in the raw view; the generated orders are classified exactly as without it."""
    columns = [row[0] for row in lab.rows.query("describe raw.orders")]
    assert EXTRA_COLUMN not in columns and "order_total" in columns
    generated = "order_id is null or order_id not like 'DQ-%'"
    assert statuses(lab.rows, "base_commerce__orders", generated) == statuses(
        lab.baseline, "base_commerce__orders", "true"
    )


def check_wrong_types(lab: Lab) -> None:
    assert_marked_orders(lab, ["DQ-WRONG-TOTAL", "DQ-WRONG-TS", "DQ-WRONG-DISCOUNT"])
    got = lab.rows.query(
        "select line_number, row_status, quarantine_reason, quantity from "
        "staging.base_commerce__order_items where order_id = 'DQ-OK' order by 1"
    )
    expected = [(n, status, reason) for n, (_, status, reason) in LINE_DEFECTS.items()]
    assert [(str(n), s, r) for n, s, r, _ in got] == expected
    assert [q for *_, q in got][1] == 1  # the good line is staged with its value unaltered


def check_duplicate_keys(lab: Lab) -> None:
    got = lab.rows.query(
        "select order_id, order_ts::varchar, row_status, quarantine_reason "
        "from staging.base_commerce__orders where order_id in ('DQ-CONFLICT', 'DQ-EXACT') "
        "order by all"
    )
    assert got == [
        ("DQ-CONFLICT", "2025-01-01 10:00:00", "quarantined", "conflicting_duplicate_key"),
        ("DQ-CONFLICT", "2025-02-01 10:00:00", "staged", None),
        ("DQ-EXACT", "2025-03-01 10:00:00", "duplicate", None),
        ("DQ-EXACT", "2025-03-01 10:00:00", "staged", None),
    ]
    assert lab.rows.query(
        "select order_total from staging.stg_commerce__orders where order_id = 'DQ-CONFLICT'"
    ) == [(20,)]


def check_all_null_column(lab: Lab) -> None:
    """web_events.event_ts empty everywhere: every row quarantined (none staged), the source
    reconciles, and the audit's per-source quarantine limit (seed: 2 %) fails."""
    raw = pd.read_csv(lab.rows.raw_dir / "web_events.csv", dtype=str, keep_default_na=False)
    without_id = int((raw["event_id"].str.strip() == "").sum())
    # a quarantined row is never a "duplicate": exact copies are quarantined too
    assert reconciliation(lab.rows)["web_events"] == (len(raw), 0, len(raw), 0, 0, 0, True)
    reasons = dict(
        lab.rows.query(
            "select quarantine_reason, count(*) from staging.base_web__events "
            "where row_status = 'quarantined' group by 1"
        )
    )
    assert reasons == {"missing_event_ts": len(raw) - without_id} | (
        {"missing_event_id": without_id} if without_id else {}
    )
    failures = publish.volume_checks(
        lab.rows.warehouse, lab.root / "none.duckdb", publish.GateConfig()
    )
    assert any(
        line.startswith("volume: web_events quarantine rate 100.00%")
        and f"({len(raw):,} of {len(raw):,} raw rows) above 2.00%" in line
        and "reference.source_quarantine_limits" in line
        for line in failures
    ), failures


def assert_marked_orders(lab: Lab, order_ids: list[str]) -> None:
    got = lab.rows.query(
        "select order_id, row_status, quarantine_reason from staging.base_commerce__orders "
        f"where order_id in (select unnest({order_ids!r})) order by 1"
    )
    assert got == sorted((key, *ORDER_DEFECTS[key][1:]) for key in order_ids)


def check_future_timestamps(lab: Lab) -> None:
    """Beyond loaded_at + tolerance: quarantined; after as_of_date but plausible: not yet
    visible (kept for a later build, not lost)."""
    assert_marked_orders(lab, ["DQ-FUTURE", "DQ-LATER"])


def check_amounts(lab: Lab) -> None:
    assert_marked_orders(lab, ["DQ-NEGATIVE", "DQ-ABSURD", "DQ-OK"])
    assert lab.rows.query(
        "select order_total, currency_code from staging.stg_commerce__orders "
        "where order_id = 'DQ-OK'"
    ) == [(10, "USD")]


def check_unknown_currency(lab: Lab) -> None:
    assert_marked_orders(lab, ["DQ-CURRENCY"])


def check_row_folder_reconciles(lab: Lab) -> None:
    """Across the whole row-defect folder: every source reconciles, and orders moved exactly
    by the marked rows (nothing else dropped or re-classified)."""
    rows, base = reconciliation(lab.rows), reconciliation(lab.baseline)
    assert all(values[-1] for values in rows.values())
    raw_rows = len(read_rows(lab.rows.raw_dir / "orders.csv")[1])
    marked = [status for _, status, _ in ORDER_DEFECTS.values()]
    expected_delta = (
        len(ORDER_DEFECTS) + 4,  # raw: the marked orders + the conflict pair + the exact pair
        marked.count("staged") + 2,  # + the later conflicting version + one exact copy
        marked.count("quarantined") + 1,  # + the older conflicting version
        1,  # the exact copy
        0,
        marked.count("not_yet_visible"),
    )
    assert rows["orders"][0] == raw_rows
    delta = tuple(a - b for a, b in zip(rows["orders"][:6], base["orders"][:6], strict=True))
    assert delta == expected_delta
    assert rows["crm_customers"] == base["crm_customers"]


def check_volume(lab: Lab, *fragments: str) -> None:
    result, before, after = lab.volume
    output = result.stdout + result.stderr
    assert result.returncode == publish.EXIT_QUALITY, output[-3000:]
    assert "Traceback" not in output
    assert after == before  # the serving file is byte-identical
    assert_one_clear_line(output, *fragments)
    runs = lab.serving.with_name(lab.serving.name + ".runs.jsonl").read_text().splitlines()
    assert json.loads(runs[-1])["status"] == "failed_audit"


def check_spike(lab: Lab) -> None:
    events = len(read_rows(lab.baseline.raw_dir / "web_events.csv")[1])
    check_volume(
        lab,
        f"volume: web_events has {events * 11:,} raw rows, {events:,} in the last published run",
        "(11.0x, at or above 10x",
    )


def check_truncated(lab: Lab) -> None:
    before = len(read_rows(lab.baseline.raw_dir / "campaign_events.csv")[1])
    now = len(range(0, before, 20))
    check_volume(
        lab,
        f"volume: campaign_events has {now:,} raw rows, {before:,} in the last published run",
        "fewer, at or above 90%",
    )


def check_header_only(lab: Lab) -> None:
    """Builds (an empty source is valid input: 0 = 0 reconciles), and the audit refuses to
    publish a source that had rows in the last published run."""
    result, *_ = lab.volume
    assert result.returncode == publish.EXIT_QUALITY
    before = len(read_rows(lab.baseline.raw_dir / "products.csv")[1])
    check_volume(
        lab, f"volume: products has 0 raw rows, {before:,} in the last published run", "100% fewer"
    )


def check_private_mart(lab: Lab) -> None:
    """A published mart carrying emails under an innocent name fails the privacy audit."""
    serving = lab.serving
    work = lab.root / "leaky.duckdb"
    shutil.copyfile(lab.baseline.warehouse, work)
    with duckdb.connect(str(work)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create table marts.campaign_contacts as select customer_id as recipient, "
            "email as contact from staging.stg_crm__customers where email is not null"
        )
        emails = con.execute(
            "select count(*) from marts.campaign_contacts where contact like '%_@_%._%'"
        ).fetchone()[0]
    before = sha256(serving)
    code, record = publish.refresh(work, serving, END_DATE, None, log=lambda _: None)
    assert code == publish.EXIT_QUALITY
    leaks = [line for line in record.failures if line.startswith("privacy:")]
    assert len(leaks) == 1, leaks
    assert leaks[0].startswith(f"privacy: marts.campaign_contacts.contact: {emails:,} of ")
    assert "sampled values hold email addresses" in leaks[0]
    assert sha256(serving) == before


@dataclass(frozen=True)
class Case:
    """One bad input and the behaviour the catalogue promises for it."""

    defect: str
    behaviour: str  # error | quarantine | audit
    expected: str
    check: Callable[[Lab], None]


CASES = {
    "missing_file": Case(
        "orders.csv absent", "error", "required file 'orders' not found …", check_missing_file
    ),
    "missing_column": Case(
        "orders.csv without order_ts", "error", "has no column 'order_ts'", check_missing_column
    ),
    "extra_columns": Case(
        "orders.csv with an extra column",
        "quarantine",
        "ignored; nothing moves",
        check_extra_columns,
    ),
    "wrong_types": Case(
        "text in amount / timestamp / quantity",
        "quarantine",
        "unparseable_order_total, unparseable_order_ts, unparseable_discount_amount, "
        "unparseable_quantity",
        check_wrong_types,
    ),
    "empty_file": Case("orders.csv 0 bytes", "error", "is empty (0 bytes)", check_empty_file),
    "header_only": Case(
        "products.csv header only (had rows)",
        "audit",
        "products has 0 raw rows …",
        check_header_only,
    ),
    "non_utf8": Case(
        "a cp1252 byte in crm_customers.csv", "error", "is not UTF-8: line N", check_non_utf8
    ),
    "duplicate_keys": Case(
        "same order_id twice (different / identical)",
        "quarantine",
        "conflicting_duplicate_key (older) / duplicate",
        check_duplicate_keys,
    ),
    "all_null_column": Case(
        "web_events.event_ts empty everywhere",
        "quarantine+audit",
        "missing_event_ts; quarantine rate above the source limit",
        check_all_null_column,
    ),
    "future_timestamps": Case(
        "order in 2099 / the day after as_of_date",
        "quarantine",
        "future_timestamp / not_yet_visible",
        check_future_timestamps,
    ),
    "negative_and_absurd_amounts": Case(
        "order_total -25 / 250,000,000",
        "quarantine",
        "negative_order_total / absurd_order_total",
        check_amounts,
    ),
    "unknown_currency": Case(
        "currency XYZ", "quarantine", "unknown_currency", check_unknown_currency
    ),
    "row_folder_reconciles": Case(
        "all row defects together",
        "quarantine",
        "every source reconciles, exact deltas",
        check_row_folder_reconciles,
    ),
    "volume_spike": Case(
        "web_events 11x", "audit", "web_events has … (11.0x, at or above 10x)", check_spike
    ),
    "truncated_source": Case(
        "campaign_events 95% fewer", "audit", "campaign_events has … fewer", check_truncated
    ),
    "raw_pii_in_mart": Case(
        "a mart with emails in column 'contact'",
        "audit",
        "privacy: … hold email addresses",
        check_private_mart,
    ),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, dbt_project: Path) -> Lab:
    root = tmp_path_factory.mktemp("catalogue")
    generate(PEOPLE, SEED, root / "generated" / "raw", root / "generated" / "truth", END_DATE)
    return Lab(root=root, landing=root / "generated" / "raw")


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input(lab: Lab, case_id: str) -> None:
    CASES[case_id].check(lab)
