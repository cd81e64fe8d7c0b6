"""Identity resolution scored against the generator's ground truth (pairwise precision / recall).

Two records of one true person that share a customer_key are a true positive pair; pairs
sharing a key are the predicted pairs, pairs sharing a person the actual pairs. Used by the
tests (targets) and by `python -m segwarehouse.identity.accuracy` for the benchmark figures.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from segwarehouse.sqltext import sql_literal

# record_type in int_identity_record_keys -> (truth file, its record id column)
TRUTH_FILES = {
    "crm_customer": ("crm_truth", "customer_id"),
    "order": ("order_truth", "order_id"),
}


@dataclass(frozen=True)
class PairwiseScore:
    """Pairwise accuracy of one record type."""

    record_type: str
    records: int
    true_pairs: int
    predicted_pairs: int
    actual_pairs: int

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are one person (1.0 when nothing was merged)."""
        return self.true_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        """Share of one person's record pairs that were merged."""
        return self.true_pairs / self.actual_pairs if self.actual_pairs else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def pairwise_score(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, record_type: str
) -> PairwiseScore:
    """Score `record_type` records of the warehouse `con` is connected to."""
    truth_file, key = TRUTH_FILES[record_type]
    truth_path = sql_literal(truth_dir / f"{truth_file}.parquet")
    row = con.execute(
        f"""
        with matched as (
            select records.customer_key, truth.person_id
            from intermediate.int_identity_record_keys as records
            inner join read_parquet({truth_path}) as truth
                on records.record_id = truth.{key}
            where records.record_type = ?
                and records.customer_key is not null and truth.person_id is not null
        ),
        agreeing as (select count(*) as n from matched group by customer_key, person_id),
        predicted as (select count(*) as n from matched group by customer_key),
        actual as (select count(*) as n from matched group by person_id)
        select
            (select count(*) from matched),
            (select coalesce(sum(n * (n - 1) // 2), 0) from agreeing),
            (select coalesce(sum(n * (n - 1) // 2), 0) from predicted),
            (select coalesce(sum(n * (n - 1) // 2), 0) from actual)
        """,
        [record_type],
    ).fetchall()[0]
    records, true_pairs, predicted, actual = (int(value) for value in row)
    return PairwiseScore(record_type, records, true_pairs, predicted, actual)


def score_warehouse(warehouse: Path, truth_dir: Path) -> list[PairwiseScore]:
    """Every record type with ground truth, from a built warehouse (opened read-only)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [pairwise_score(con, truth_dir, record_type) for record_type in TRUTH_FILES]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the scores as JSON (and a markdown table with --markdown)."""
    parser = argparse.ArgumentParser(
        prog="python -m segwarehouse.identity.accuracy",
        description="Pairwise precision / recall of identity resolution against the "
        "generator's ground truth (truth/ beside the generated raw/ folder).",
        epilog="Example:\n  python -m segwarehouse.identity.accuracy "
        "--warehouse data/bench/c1000000/warehouse.duckdb --truth data/bench/c1000000/truth",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse")
    parser.add_argument("--truth", type=Path, required=True, help="the generator's truth/ folder")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    for path in (args.warehouse, args.truth):
        if not path.exists():
            parser.error(f"{path} does not exist")
    scores = score_warehouse(args.warehouse, args.truth)
    print(json.dumps([{**asdict(s), "precision": s.precision, "recall": s.recall} for s in scores]))
    if args.markdown:
        print("| records | records scored | precision | recall | F1 |")
        print("|---|---:|---:|---:|---:|")
        for s in scores:
            print(
                f"| {s.record_type} | {s.records:,} | {s.precision:.4f} | {s.recall:.4f} "
                f"| {s.f1:.4f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
