"""Orchestration of a generator run: validation, DuckDB session, steps, manifest, summary."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import duckdb

from segwarehouse.generator import commerce, dirt, marketing, people, sqlkit, truth, web
from segwarehouse.generator.params import Params
from segwarehouse.generator.summary import GenerationSummary
from segwarehouse.generator.writer import (
    FORMATS,
    OutputFormat,
    defect_counts,
    grouped_counts,
    write_query,
    write_truth,
)
from segwarehouse.settings import (
    OPTIONAL_SOURCES,
    REQUIRED_SOURCES,
    SYNTHETIC_MANIFEST,
    file_fingerprint,
)

# The generator writes every landing file of the raw-data contract, in its order.
SOURCES: tuple[str, ...] = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
MANIFEST_FILE = "dirt_manifest.json"
SUMMARY_FILE = "generation_summary.json"

Progress = Callable[[str], None]


def validate_arguments(
    customers: int, out_dir: Path, truth_dir: Path, fmt: str, threads: int
) -> None:
    """Raise ``ValueError`` for arguments that cannot produce a sound data set."""
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise ValueError(f"customers must be an integer >= 1, got {customers!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    out_resolved = Path(out_dir).expanduser().resolve()
    truth_resolved = Path(truth_dir).expanduser().resolve()
    if truth_resolved == out_resolved or out_resolved in truth_resolved.parents:
        raise ValueError(
            f"truth_dir ({truth_resolved}) must not be out_dir or inside it ({out_resolved}): "
            "ground truth would leak into the warehouse sources"
        )


class _Run:
    """State of one generation run; each public method is one step and returns a row count."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        params: Params,
        out_dir: Path,
        truth_dir: Path,
        fmt: OutputFormat,
    ) -> None:
        """Keep the session, parameters and destinations; nothing is generated yet."""
        self.con = con
        self.params = params
        self.out_dir = out_dir
        self.truth_dir = truth_dir
        self.fmt = fmt
        self.n_orders = 0
        self.files: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.truth_files: dict[str, Path] = {}
        self.truth_rows: dict[str, int] = {}
        self.manifest: dict[str, dict[str, int]] = {}

    def _write(
        self,
        name: str,
        query: str,
        columns: tuple[str, ...],
        order_by: str | None,
        counts: dict[str | None, int] | None = None,
    ) -> int:
        """Write one source file, check its row count and record its manifest entry."""
        path = self.out_dir / f"{name}.{self.fmt}"
        rows = write_query(self.con, query, columns, order_by, path, self.fmt)
        found = counts if counts is not None else defect_counts(self.con, query)
        entry = dirt.manifest_entry(name, found)
        if entry[dirt.TOTAL_KEY] != rows:
            raise RuntimeError(f"{name}: wrote {rows} rows but counted {entry[dirt.TOTAL_KEY]}")
        self.files[name], self.rows[name], self.manifest[name] = path, rows, entry
        return rows

    def persons(self) -> int:
        """Hidden person table (the truth every source is derived from)."""
        self.con.execute(people.persons_sql(self.params))
        return self.params.customers

    def crm_customers(self) -> int:
        """Fragmented, versioned CRM records."""
        self.con.execute(people.crm_sql(self.params))
        return self._write(
            "crm_customers", people.crm_output_sql(), people.CRM_COLUMNS, people.CRM_ORDER_BY
        )

    def products(self) -> int:
        """Product catalogue and the lookup used to pick order lines."""
        self.con.execute(commerce.products_sql(self.params))
        self.con.execute(commerce.product_lookup_sql(self.params))
        return self._write(
            "products", commerce.products_output_sql(), commerce.PRODUCT_COLUMNS, "sort_key"
        )

    def orders(self) -> int:
        """Order skeletons, their lines and subtotals; writes the orders file."""
        self.con.execute(commerce.orders_base_sql(self.params))
        self.con.execute(commerce.order_lines_sql(self.params))
        self.n_orders = int(self.con.execute("SELECT count(*) FROM orders_base").fetchall()[0][0])
        query = commerce.orders_output_sql(self.params, self.n_orders)
        return self._write("orders", query, commerce.ORDER_COLUMNS, commerce.ORDER_ORDER_BY)

    def order_items(self) -> int:
        """Order lines of every order with an id, plus orphan lines."""
        query = commerce.order_items_output_sql(self.params, self.n_orders)
        return self._write(
            "order_items", query, commerce.ORDER_ITEM_COLUMNS, commerce.ORDER_ITEM_ORDER_BY
        )

    def web_events(self) -> int:
        """Sessions (calibrated for ~70% cart abandonment) expanded into events."""
        self.con.execute(web.sessions_raw_sql(self.params))
        n_purchase, n_other = self.con.execute(
            "SELECT count(*) FILTER (stype = 'purchase'), count(*) FILTER (stype <> 'purchase') "
            "FROM sess_raw"
        ).fetchall()[0]
        cart_prob = web.cart_probability(int(n_purchase), int(n_other))
        self.con.execute(web.sessions_sql(self.params, cart_prob))
        self.con.execute("DROP TABLE sess_raw")
        return self._write(
            "web_events",
            web.web_events_output_sql(self.params),
            web.WEB_EVENT_COLUMNS,
            web.WEB_EVENT_ORDER_BY,
        )

    def consents(self) -> int:
        """Consent grants and revocations."""
        return self._write(
            "consents",
            marketing.consents_output_sql(self.params),
            marketing.CONSENT_COLUMNS,
            marketing.CONSENT_ORDER_BY,
        )

    def campaign_events(self) -> int:
        """Campaign funnel events with a randomised control group."""
        counts = grouped_counts(self.con, marketing.campaign_counts_sql(self.params))
        return self._write(
            "campaign_events",
            marketing.campaign_events_output_sql(self.params),
            marketing.CAMPAIGN_COLUMNS,
            marketing.CAMPAIGN_ORDER_BY,
            counts,
        )

    def erasure_requests(self) -> int:
        """Right-to-be-forgotten requests."""
        return self._write(
            "erasure_requests",
            marketing.erasure_output_sql(self.params),
            marketing.ERASURE_COLUMNS,
            marketing.ERASURE_ORDER_BY,
        )

    def ground_truth(self) -> int:
        """Truth parquet files and the dirt manifest (truth_dir only)."""
        queries = {
            "persons": truth.persons_truth_sql(),
            "crm_truth": truth.crm_truth_sql(),
            "order_truth": truth.order_truth_sql(self.params, self.n_orders),
            "cookie_truth": truth.cookie_truth_sql(),
        }
        for name, query in queries.items():
            path = self.truth_dir / f"{name}.parquet"
            self.truth_rows[name] = write_truth(self.con, query, path)
            self.truth_files[name] = path
        ordered = {name: self.manifest[name] for name in SOURCES}
        manifest_path = self.truth_dir / MANIFEST_FILE
        manifest_path.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
        return sum(self.truth_rows.values())


STEPS: tuple[str, ...] = (
    "persons",
    "crm_customers",
    "products",
    "orders",
    "order_items",
    "web_events",
    "consents",
    "campaign_events",
    "erasure_requests",
    "ground_truth",
)


def _connect(threads: int, memory_limit: str, temp_dir: str) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB session with the run's resource limits and spill folder."""
    config = {
        "threads": threads,
        "memory_limit": memory_limit,
        "temp_directory": temp_dir,
        "preserve_insertion_order": True,
    }
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")
    return con


def _parameters(params: Params) -> dict[str, object]:
    """Derived parameters recorded in the summary (sizes, window, campaign truth)."""
    return {
        "history_start": params.start_date.isoformat(),
        "history_end": params.end_date.isoformat(),
        "products": params.n_products,
        "campaigns": params.n_campaigns,
        "anonymous_visitors": params.n_visitors,
        "campaign_control_conversion": marketing.BASELINE_CONVERSION,
        "campaign_treatment_conversion": round(marketing.treatment_conversion_rate(), 5),
    }


def generate(
    customers: int,
    seed: int,
    out_dir: Path,
    truth_dir: Path,
    end_date: date,
    fmt: OutputFormat = "csv",
    threads: int = 2,
    memory_limit: str = "4GB",
    progress: Progress | None = None,
) -> GenerationSummary:
    """Generate the synthetic e-commerce sources into ``out_dir`` and the truth into ``truth_dir``.

    Output is a deterministic function of ``(customers, seed, end_date, fmt)``: the same
    arguments give byte-identical files whatever ``threads``/``memory_limit`` are.

    Raises:
        ValueError: ``customers < 1``, unknown ``fmt`` or ``truth_dir`` equal to / inside
            ``out_dir``.
    """
    validate_arguments(customers, Path(out_dir), Path(truth_dir), fmt, threads)
    if isinstance(end_date, datetime):
        end_date = end_date.date()
    out_path, truth_path = Path(out_dir), Path(truth_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    truth_path.mkdir(parents=True, exist_ok=True)
    params = Params(customers=customers, seed=seed, end_date=end_date)
    summary = GenerationSummary(
        customers=customers,
        seed=seed,
        end_date=end_date,
        fmt=fmt,
        out_dir=out_path,
        truth_dir=truth_path,
        parameters=_parameters(params),
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segwarehouse-gen-") as temp_dir:
        con = _connect(threads, memory_limit, temp_dir)
        try:
            sqlkit.install(con, params)
            run = _Run(con, params, out_path, truth_path, fmt)
            _run_steps(run, summary, progress)
        finally:
            con.close()
    summary.files, summary.rows = run.files, run.rows
    summary.truth_files, summary.truth_rows = run.truth_files, run.truth_rows
    summary.manifest_path = truth_path / MANIFEST_FILE
    summary.total_seconds = time.perf_counter() - started
    (truth_path / SUMMARY_FILE).write_text(
        json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    write_synthetic_manifest(out_path, run.files, customers, seed, end_date)
    return summary


def write_synthetic_manifest(
    out_dir: Path, files: dict[str, Path], customers: int, seed: int, end_date: date
) -> Path:
    """Mark the landing folder as synthetic: SYNTHETIC_MANIFEST lists the generated files with
    their size and modification time, so a file later replaced by a real export no longer
    counts (segwarehouse.settings.synthetic_files) and the publish can refuse demo data over a
    serving file holding real data."""
    listed = {
        path.relative_to(out_dir).as_posix(): file_fingerprint(path)
        for path in sorted(files.values())
    }
    document = {
        "synthetic": True,
        "written_by": "segwarehouse generate",
        "customers": customers,
        "seed": seed,
        "end_date": end_date.isoformat(),
        "files": listed,
    }
    manifest = out_dir / SYNTHETIC_MANIFEST
    manifest.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return manifest


def _run_steps(run: _Run, summary: GenerationSummary, progress: Progress | None) -> None:
    """Execute every step, timing it and reporting one line per step."""
    for number, name in enumerate(STEPS, start=1):
        step_start = time.perf_counter()
        rows = getattr(run, name)()
        seconds = time.perf_counter() - step_start
        summary.step_seconds[name] = seconds
        if progress is not None:
            progress(f"[{number}/{len(STEPS)}] {name}: {rows:,} rows in {seconds:.1f}s")
