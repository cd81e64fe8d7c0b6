"""Candidate pairs of the matcher's blocking rules on generated CRM records at scale.

Generates only the CRM file (segwarehouse.generator, steps persons and crm_customers) for
--customers customers, keeps each customer_id's latest version (as staging does), and counts
the candidate pairs of every prediction blocking rule (PREDICTION_BLOCKING_RULES) on it:
exactly per rule from group sizes, and, with --union, the exact union (materialised pairs:
memory grows with the count, fine to a few tens of millions).

    SEGMENTS_DUCKDB_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/febrl_blocking_scale.py \\
        --customers 100000 --workdir /tmp/blocking_100k --union
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from segwarehouse.generator import api as generator_api
from segwarehouse.generator import sqlkit
from segwarehouse.generator.params import Params
from segwarehouse.identity.probabilistic import candidate_pair_counts, rule_pair_counts

END_DATE = date(2026, 6, 30)
NICKNAMES = (
    Path(__file__).resolve().parent.parent / "seeds" / "identity" / "first_name_nicknames.csv"
)


def generate_crm(customers: int, seed: int, workdir: Path) -> Path:
    """Only the CRM landing file; its path."""
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "raw").mkdir(parents=True)
    (workdir / "truth").mkdir()
    params = Params(customers=customers, seed=seed, end_date=END_DATE)
    con = generator_api._connect(1, "3GB", str(workdir))
    try:
        sqlkit.install(con, params)
        run = generator_api._Run(con, params, workdir / "raw", workdir / "truth", "parquet")
        run.persons()
        run.crm_customers()
    finally:
        con.close()
    return workdir / "raw" / "crm_customers.parquet"


def main() -> int:
    """Print the counts as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--union", action="store_true", help="also count the exact union")
    args = parser.parse_args()
    started = time.perf_counter()
    crm = generate_crm(args.customers, args.seed, args.workdir)
    generated = time.perf_counter() - started
    nicknames = pd.read_csv(NICKNAMES, dtype=str)
    with duckdb.connect() as con:
        con.execute("SET threads = 1")
        con.execute(
            f"""
            create table records as
            select customer_id as record_id, first_name, last_name,
                   try_cast(birth_date as date) as birth_date, street_address, postal_code,
                   city, country as country_code, email, phone
            from read_parquet('{crm}')
            where customer_id is not null
            qualify row_number() over (partition by customer_id order by updated_at desc) = 1
            """
        )
        [(records,)] = con.execute("select count(*) from records").fetchall()
        mapping = dict(zip(nicknames["nickname"], nicknames["canonical_name"], strict=True))
        started = time.perf_counter()
        per_rule = rule_pair_counts(con, "records", mapping)
        counted = time.perf_counter() - started
        union = candidate_pair_counts(con, "records", mapping) if args.union else None
    result = {
        "customers": args.customers,
        "crm_records": records,
        "generate_seconds": round(generated, 1),
        "count_seconds": round(counted, 1),
        "pairs_per_rule": dict(per_rule),
        "sum_of_rules": sum(pairs for _, pairs in per_rule),
        "union": None if union is None else [list(row) for row in union],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
