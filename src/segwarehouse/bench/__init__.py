"""Benchmark harness: generator, `dbt build` of staging, and a hand-written DuckDB floor.

For each scale (number of customers) it generates the demo data, runs `dbt build` on it in a
subprocess against a fresh warehouse, runs ``benchmarks/staging_baseline.sql`` (the same
staging work written as one plain DuckDB script) in a fresh Python process on the same files,
and reports both side by side: the machine these run on is shared and noisy, so the figure to
read is the ratio dbt / baseline measured in the same run, not the absolute seconds.

Peak memory is the kernel's own peak resident set size of each measured process, taken by a
tiny wrapper process that starts it and reads its ``wait4`` rusage (so neither an earlier
child's peak nor this process's size at fork can leak in), next to the peak of the summed RSS
of its process tree sampled from /proc.

Modules, by job:

- ``config``: BenchConfig, ScaleDirs, Measurement and the shared defaults;
- ``measure``: timing one child process (wall, peak RSS, spill);
- ``steps``: the measured steps of a scale (generator, dbt build, refresh, quality gate,
  audit-and-publish, baseline), dbt command lines from ``dbt_runner.DbtInvocation``;
- ``results``: reading run_results.json, dbt's log and the reconciliation counts;
- ``run``: orchestration of the scales (``run.run(config)``);
- ``report`` and ``preamble``: the JSON and markdown outputs;
- ``baseline``: the baseline child process.

``python -m segwarehouse.bench`` runs the baseline script (the child process the harness
times); use ``segwarehouse bench`` to run the benchmark.
"""
