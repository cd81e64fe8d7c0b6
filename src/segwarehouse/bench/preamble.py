"""The hand-written top of the benchmark report: the default text and the marker below which
`segwarehouse bench` rewrites the file."""

from __future__ import annotations

from pathlib import Path

REPORT_MARKER = "<!-- Everything below this line is written by `segwarehouse bench`. -->"


DEFAULT_PREAMBLE = """# Benchmarks

How long the staging layer takes to build and how much memory it needs, at demo scale and at
a million customers, next to a floor: the same staging work written by hand as one DuckDB
script (`benchmarks/staging_baseline.sql`), no dbt.

## What is measured

For each scale, in one run, on the same landing files:

- **generator**: `segwarehouse generate` (in-process), seconds per step and rows per source.
- **dbt build**: `dbt build --selector staging` (selectors.yml: `+staging`,
  `marts.data_quality` and the seeds in seeds/quality, cautious indirect selection) in a
  subprocess against a fresh
  warehouse file: seeds, the eight `base_` tables, the `stg_` views,
  `audit.quarantined_rows`, `audit.source_reconciliation` and their tests (the quarantine
  gate among them).
  Wall time of the whole process (start-up and parsing included), dbt's own execution time
  (`elapsed_time` in run_results.json), per-model times, peak RSS.
- **baseline**: `benchmarks/staging_baseline.sql` in a fresh Python process through the
  `duckdb` package, with the same threads and memory_limit, into a fresh database file: parse
  and normalise every raw row, the quarantine checks, exact-duplicate collapse, key conflicts,
  latest-version-wins for CRM, the quarantine and reconciliation tables. No tests.
- **row counts**: staged rows per source from both sides' `audit.source_reconciliation`.
  Orders and web events must match exactly; the other sources are expected to match too.

Peak RSS is the kernel's peak resident set size of the measured process itself, read by a
tiny wrapper process that starts it and waits for it (`wait4` rusage), so neither an earlier
child's peak nor the harness's own size can leak in; the sampled peak of the whole process
tree's summed RSS (from /proc, every 0.1 s) is shown beside it, and so is the peak disk space
of the spill folders (DuckDB's temp_directory), sampled the same way.

## How to reproduce

```bash
make bench          # 10k and 1M customers, parquet; rewrites this file and
                    # benchmarks/results/benchmarks.json
make bench-smoke    # 10k only, report in data/bench/ (leaves this file alone)
.venv/bin/segwarehouse bench --customers 10000 --customers 1000000 --format parquet \\
    --work-dir data/bench --report docs/benchmarks.md --json benchmarks/results/benchmarks.json
```

`SEGMENTS_MEMORY_LIMIT` (default 8GB) and `SEGMENTS_DUCKDB_THREADS` (default 2) apply to all
three. Generated data, warehouses and logs stay in the work dir (git-ignored).

## How to read it

The machine is shared and noisy: absolute seconds move from run to run, so every dbt figure
sits next to the baseline measured minutes apart in the same run. Read **dbt / baseline**:
1.0 would mean dbt adds nothing over the hand-written floor; the wall ratio includes dbt's
start-up and parsing (a fixed few seconds that dominate at small scale), the execution ratio
compares only the SQL work. The ratios are given only for the default selection: the floor
does the staging layer and its data-quality marts, so a wider `--select` (a whole-project
build) shows n/a rather than a ratio of unlike work. The load average before each
measurement is recorded and a note flags any measurement that started with the load above
`nproc`. When a process reaches the memory_limit its peak RSS is the cap (DuckDB fills its
buffer pool up to it), so compare the spill to disk instead.
"""


def read_preamble(report: Path) -> str:
    """The hand-written part of an existing report (above the marker), else the default."""
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        if REPORT_MARKER in text:
            return text.split(REPORT_MARKER, 1)[0].rstrip("\n") + "\n"
    return DEFAULT_PREAMBLE
