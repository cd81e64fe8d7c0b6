"""Identity resolution on generated data, scored against the generator's ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import (
    BUILD_VARS,
    NO_DATA_TESTS,
    NO_UNIT_TESTS,
    SUCCESSIVE_DATES,
    ChainBuild,
    Workspace,
    frame,
    linked_workspace,
    make_workspace,
)
from segwarehouse.identity.accuracy import pairwise_score

PRECISION_TARGET = 0.995
F1_TARGET = 0.99


def pairwise_scores(workspace: Workspace, truth: Path, record_type: str) -> tuple[float, float]:
    """Pairwise precision and recall of resolved records against the true person."""
    with duckdb.connect(str(workspace.warehouse), read_only=True) as con:
        score = pairwise_score(con, truth, record_type)
    assert score.actual_pairs > 0
    return score.precision, score.recall


def test_pairwise_score_counts_pairs(tmp_path: Path) -> None:
    """Three records of person A, two of B; the resolver split A and merged one B record."""
    truth = tmp_path / "truth"
    truth.mkdir()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_identity_record_keys as select * from (values "
            "('crm_customer', 'r1', 'k1'), ('crm_customer', 'r2', 'k1'), "
            "('crm_customer', 'r3', 'k2'), ('crm_customer', 'r4', 'k2'), "
            "('crm_customer', 'r5', 'k3')) as t(record_type, record_id, customer_key)"
        )
        con.execute(
            f"copy (select * from (values ('r1', 'A'), ('r2', 'A'), ('r3', 'A'), ('r4', 'B'), "
            f"('r5', 'B')) as t(customer_id, person_id)) to '{truth / 'crm_truth.parquet'}'"
        )
        score = pairwise_score(con, truth, "crm_customer")
    # predicted pairs: (r1,r2) (r3,r4); actual: (r1,r2) (r1,r3) (r2,r3) (r4,r5); true: (r1,r2)
    assert (score.true_pairs, score.predicted_pairs, score.actual_pairs) == (1, 2, 4)
    assert score.precision == 0.5 and score.recall == 0.25


@pytest.mark.parametrize("record_type", ["crm_customer", "order"])
def test_resolution_meets_accuracy_targets(
    built: Workspace, generated: Path, record_type: str
) -> None:
    precision, recall = pairwise_scores(built, generated / "truth", record_type)
    f1 = 2 * precision * recall / (precision + recall)
    assert precision >= PRECISION_TARGET, (precision, recall)
    assert f1 >= F1_TARGET, (precision, recall)


def test_probabilistic_links_find_people_with_no_shared_identifier(built: Workspace) -> None:
    [(linked_customers,)] = built.query(
        "select count(*) from marts.dim_customers where has_probabilistic_match"
    )
    assert linked_customers > 0


def test_junk_identifiers_never_link(built: Workspace) -> None:
    rows = built.query(
        "select node_id, guard_reason, forms_edges from intermediate.int_identity_nodes "
        "where node_id in ('email:test@example.com', 'phone:+10000000000') "
        "or node_id like 'anonymous_id:kiosk-%'"
    )
    assert rows, "the generated data holds junk identifiers"
    assert all(reason == "junk_identifier" and not links for _, reason, links in rows)
    [(edges_to_junk,)] = built.query(
        "select count(*) from intermediate.int_identity_edges as edges "
        "inner join intermediate.int_identity_nodes as nodes "
        "on nodes.node_id in (edges.node_id_a, edges.node_id_b) where not nodes.forms_edges"
    )
    assert edges_to_junk == 0


def test_erased_people_are_gone_from_every_identity_mart(built: Workspace, generated: Path) -> None:
    """Erasure reaches every record of the person, through any identifier of the request."""
    truth = generated / "truth"
    erased_people = f"""
        select crm.person_id
        from read_csv('{generated / "raw" / "erasure_requests.csv"}', all_varchar = true) as r
        inner join read_parquet('{truth / "crm_truth.parquet"}') as crm
            on trim(r.customer_id) = crm.customer_id
        union
        select persons.person_id
        from read_csv('{generated / "raw" / "erasure_requests.csv"}', all_varchar = true) as r
        inner join read_parquet('{truth / "persons.parquet"}') as persons
            on lower(trim(r.email)) = lower(persons.email)
    """
    [(people,)] = built.query(f"select count(*) from ({erased_people})")
    assert people > 0
    [(crm_left, orders_left)] = built.query(
        f"""
        select
            (select count(*) from marts.customer_record_map as m
             inner join read_parquet('{truth / "crm_truth.parquet"}') as t
                on m.record_type = 'crm_customer' and m.record_id = t.customer_id
             where t.person_id in ({erased_people})),
            (select count(*) from marts.customer_record_map as m
             inner join read_parquet('{truth / "order_truth.parquet"}') as t
                on m.record_type = 'order' and m.record_id = t.order_id
             where t.person_id in ({erased_people}) and m.customer_key is not null)
        """
    )
    assert (crm_left, orders_left) == (0, 0)


def test_a_later_run_keeps_keys_and_logs_every_change(three_date_chain: ChainBuild) -> None:
    """Two successive runs into one warehouse (the chain's last two): keys are stable, and
    every identifier whose key changed is in customer_key_changes (old -> new), so history
    can follow it."""
    second, third = SUCCESSIVE_DATES[1:]
    nodes = "select node_id, customer_key from intermediate.int_identity_resolved_nodes"
    before = dict(frame(three_date_chain.after[second], nodes).itertuples(index=False))
    after = dict(frame(three_date_chain.after[third], nodes).itertuples(index=False))
    with duckdb.connect(str(three_date_chain.after[third]), read_only=True) as con:
        logged = set(
            con.execute(
                "select previous_customer_key, customer_key from marts.customer_key_changes "
                f"where changed_on = '{third}'"
            ).fetchall()
        )
        erased = {
            key
            for (key,) in con.execute(
                "select customer_key from intermediate.int_identity_erased_customer_keys"
            ).fetchall()
        }
    common = before.keys() & after.keys()
    changed = {(before[node], after[node]) for node in common if before[node] != after[node]}
    assert len(common) > 1_000
    assert len(changed) / len(common) < 0.02
    assert {change for change in changed if change[1] not in erased} <= logged


MERGE_LOG = {
    "marts.customer_key_changes": "changed_on",
    "intermediate.int_identity_key_history": "first_assigned_on",
    "marts.customer_key_successors": "retired_on",
}


# Starts from a copy of the session's chain: one build (identity only, about 30 models).
@pytest.mark.xdist_group("three_date_chain")
def test_full_refresh_keeps_the_merge_log_and_logs_new_changes(
    three_date_chain: ChainBuild, generated: Path, tmp_path: Path
) -> None:
    """The warehouse as left by the second build of the chain, rebuilt with --full-refresh
    at the third date: the merges logged by the second build are kept, and the keys resolved
    afresh are compared with the stored ones, so the log, the key history and the successors
    come out exactly as the chain's incremental third build left them."""
    second, third = SUCCESSIVE_DATES[1:]
    workspace = linked_workspace(tmp_path / "rebuild", generated / "raw")
    shutil.copyfile(three_date_chain.after[second], workspace.warehouse)
    run = workspace.dbt(
        "build",
        "--full-refresh",
        "--select",
        "+customer_key_successors",
        *NO_DATA_TESTS,
        dbt_vars={**BUILD_VARS, "as_of_date": third},
    )
    assert run.returncode == 0, run.output
    incremental = three_date_chain.after[third]
    for table, date_column in MERGE_LOG.items():
        rebuilt = set(workspace.query(f"select * from {table}"))
        with duckdb.connect(str(incremental), read_only=True) as con:
            expected = set(con.execute(f"select * from {table}").fetchall())
        assert rebuilt == expected, table
        [(earlier,)] = workspace.query(
            f"select count(*) from {table} where {date_column} < '{third}'"
        )
        assert earlier > 0, table
    logged = workspace.query(
        "select changed_on, count(*) from marts.customer_key_changes group by all"
    )
    assert {str(changed_on) for changed_on, _ in logged} == {second, third}
    # Identifiers no longer resolved are pruned, as a full refresh used to do.
    [(stale,)] = workspace.query(
        "select count(*) from intermediate.int_identity_key_history where node_id not in "
        "(select node_id from intermediate.int_identity_resolved_nodes)"
    )
    assert stale == 0


@pytest.mark.usefixtures("dbt_project")
def test_person_records_alone_resolve_their_duplicates(generated: Path, tmp_path: Path) -> None:
    """A CRM file with only names, birth dates and addresses (no email, phone, loyalty id,
    orders) still resolves people recorded twice."""
    workspace = make_workspace(tmp_path / "names_only")
    truth = generated / "truth"
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select customer_id, first_name, last_name, birth_date, street_address,
                       city, postal_code, country, created_at
                from read_csv('{generated / "raw" / "crm_customers.csv"}', all_varchar = true)
            ) to '{workspace.raw_dir / "crm_customers.csv"}' (header)
            """
        )
    (workspace.raw_dir / "orders.csv").write_text("order_id,order_ts,status,order_total\n")
    run = workspace.dbt("build", *NO_UNIT_TESTS, dbt_vars=BUILD_VARS)
    assert run.returncode == 0, run.output
    precision, recall = pairwise_scores(workspace, truth, "crm_customer")
    assert precision >= PRECISION_TARGET
    assert recall >= 0.5, recall


def test_generated_crm_carries_real_world_noise(generated: Path) -> None:
    """Records of one person differ the way FEBRL's do: day and month transposed, a digit of
    the birth day or of the postal code mistyped, a first or last name missing."""
    raw, truth = generated / "raw", generated / "truth"
    pairs = f"""
        with records as (
            select t.person_id, c.customer_id, c.first_name, c.last_name,
                   try_cast(c.birth_date as date) as birth_date,
                   upper(c.postal_code) as postal_code
            from read_csv('{raw / "crm_customers.csv"}', all_varchar = true) as c
            inner join read_parquet('{truth / "crm_truth.parquet"}') as t
                on c.customer_id = t.customer_id
        )
        select l.*, r.first_name as first_r, r.last_name as last_r,
               r.birth_date as birth_r, r.postal_code as postal_r
        from records as l
        inner join records as r
            on l.person_id = r.person_id and l.customer_id < r.customer_id
    """
    with duckdb.connect() as con:
        [(transposed, day_typo, postal_typo, no_first, no_last)] = con.execute(
            f"""
            select
                count(*) filter (where year(birth_date) = year(birth_r)
                    and month(birth_date) = day(birth_r) and day(birth_date) = month(birth_r)
                    and month(birth_date) <> day(birth_date)),
                count(*) filter (where birth_date <> birth_r
                    and strftime(birth_date, '%Y-%m') = strftime(birth_r, '%Y-%m')
                    and day(birth_date) // 10 = day(birth_r) // 10),
                count(*) filter (where postal_code <> postal_r
                    and length(postal_code) = length(postal_r)
                    and hamming(postal_code, postal_r) = 1),
                count(*) filter (where first_name is null and first_r is not null),
                count(*) filter (where last_name is null and last_r is not null)
            from ({pairs})
            """
        ).fetchall()
    assert min(transposed, day_typo, postal_typo, no_first, no_last) > 0, (
        transposed,
        day_typo,
        postal_typo,
        no_first,
        no_last,
    )
