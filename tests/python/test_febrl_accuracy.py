"""Identity resolution on real-world noise: FEBRL data set 1 against plain Splink.

The data set is vendored (tests/fixtures/febrl/, see its README); plain Splink runs in the
same test on the same records and fields, so the target moves with it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import Workspace
from segwarehouse.identity.febrl import (
    BUILD_VARS,
    IDENTITY_SELECTION,
    birth_date_iso,
    entity_of_record,
    pairwise_score_clusters,
    read_febrl_csv,
    to_crm_customers,
    true_pair_count,
    warehouse_candidate_pairs,
    warehouse_clusters,
    write_landing_folder,
)
from segwarehouse.identity.plain_splink import plain_splink_dedupe
from segwarehouse.identity.probabilistic import (
    PREDICTION_BLOCKING_RULES,
    candidate_pair_counts,
    rule_pair_counts,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "febrl" / "dataset1.csv.gz"
PRECISION_TARGET = 0.995
F1_MARGIN = 0.005


def test_febrl_records_map_onto_the_crm_contract() -> None:
    records = read_febrl_csv(FIXTURE)
    assert len(records) == 1000 and true_pair_count(records["rec_id"]) == 500
    crm = to_crm_customers(records)
    row = crm.set_index("customer_id").loc["rec-122-org"]
    assert (row["first_name"], row["last_name"], row["birth_date"]) == (
        "lachlan",
        "berry",
        "1999-02-19",
    )
    assert (row["street_address"], row["city"], row["postal_code"]) == (
        "69 giblin street",
        "bittern",
        "4814",
    )
    assert (row["region"], row["country"]) == ("qld", "AU")
    # names, birth date and address only: the SSN is not carried anywhere
    assert not crm.isin(records["soc_sec_id"].dropna().tolist()).any().any()
    assert crm[["email", "phone", "loyalty_id"]].isna().all().all()


def test_birth_dates_and_record_ids() -> None:
    assert birth_date_iso("19560231") == "1956-02-31"  # staging decides it does not parse
    assert birth_date_iso(None) is None
    assert birth_date_iso("1956") == "1956"
    assert entity_of_record("rec-12-dup-3") == "12"
    assert entity_of_record("rec-12-org") == "12"
    assert entity_of_record("12-org") is None


def test_a_malformed_record_id_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, "
        "state, date_of_birth, soc_sec_id\nrec-1-org, a, b, 1, x st, , y, 2000, nsw, "
        "19800101, 1\nperson-2, a, b, 1, x st, , y, 2000, nsw, 19800101, 2\n"
    )
    with pytest.raises(ValueError, match=r"'person-2' \(row 3\)"):
        read_febrl_csv(path)


def test_pairwise_score_of_clusters() -> None:
    # person 1: three records split 2 + 1; person 2: one record merged into person 1's cluster
    clusters = pd.DataFrame(
        {
            "record_id": ["rec-1-org", "rec-1-dup-0", "rec-1-dup-1", "rec-2-org"],
            "cluster_id": ["a", "a", "b", "a"],
        }
    )
    score = pairwise_score_clusters(clusters)
    assert (score.true_pairs, score.predicted_pairs, score.actual_pairs) == (1, 3, 3)


def test_candidate_pair_counts_are_exact_per_rule_and_cumulative() -> None:
    with duckdb.connect() as con:
        con.execute(
            "create table people as select * from (values "
            "('1', 'Ann', 'Lee', date '1980-01-01', '1 Main St', '1000', 'Sydney', 'AU'),"
            "('2', 'Anne', 'Lee', date '1980-01-01', '9 High St', '2000', 'Perth', 'AU'),"
            "('3', 'Lee', 'Ann', date '1981-01-01', '9 High St', '3000', 'Perth', 'AU'),"
            "('4', 'Ann', 'Kim', date '1990-05-05', '5 Side Rd', '1000', 'Sydney', 'AU')) "
            "as t(record_id, first_name, last_name, birth_date, street_address, postal_code, "
            "city, country_code)"
        )
        con.execute(
            "create view records as select *, null::varchar as email, null::varchar as phone "
            "from people"
        )
        counts = candidate_pair_counts(con, "records")
    assert [name for name, _, _ in counts] == [name for name, _ in PREDICTION_BLOCKING_RULES]
    # pairs: 1-2 same birth date and initials, 1-4 same postal code and first name,
    # 2-3 same street, 1-3 names swapped
    assert [(own, union) for _, own, union in counts] == [
        (1, 1),  # birth date + first initial: 1-2
        (1, 1),  # birth date + last initial: 1-2
        (0, 1),  # birth date + city
        (0, 1),  # birth date + postal prefix
        (1, 2),  # postal code + first name: 1-4
        (0, 2),  # postal code + last name
        (1, 3),  # street: 2-3
        (0, 3),  # full name + city
        (0, 3),  # first name + last initial + city
        (0, 3),  # last name + first initial + city
        (1, 4),  # names swapped: 1-3
    ]


def test_febrl1_resolution_is_as_good_as_plain_splink(workspace: Workspace) -> None:
    """The build's pairwise precision >= 0.995 and F1 within 0.005 of plain Splink's."""
    crm = to_crm_customers(read_febrl_csv(FIXTURE))
    write_landing_folder(crm, workspace.raw_dir)
    run = workspace.dbt("build", *IDENTITY_SELECTION, dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
        build = pairwise_score_clusters(warehouse_clusters(con))
    with duckdb.connect(str(workspace.warehouse)) as con:
        candidates = warehouse_candidate_pairs(con)[-1][2]
    plain = plain_splink_dedupe(crm)
    reference = pairwise_score_clusters(plain.clusters)
    figures = (build, reference, candidates, plain.candidate_pairs)
    assert build.records == 1000 and build.actual_pairs == 500, figures
    assert build.precision >= PRECISION_TARGET, figures
    assert build.f1 >= reference.f1 - F1_MARGIN, figures
    # the single-field blocking stays cheaper than plain Splink's
    assert candidates < plain.candidate_pairs, figures


def test_rule_pair_counts_equal_the_materialised_counts() -> None:
    """The cheap per-rule counts (group sizes) equal the pairs each rule generates."""
    crm = to_crm_customers(read_febrl_csv(FIXTURE))
    with duckdb.connect() as con:
        con.register("crm", crm)
        con.execute(
            "create table records as select customer_id as record_id, first_name, last_name, "
            "try_cast(birth_date as date) as birth_date, street_address, postal_code, city, "
            "country as country_code, email, phone from crm"
        )
        cheap = rule_pair_counts(con, "records")
        exact = candidate_pair_counts(con, "records")
    assert cheap == [(name, own) for name, own, _ in exact]
    assert all(own > 0 for _, own in cheap)
