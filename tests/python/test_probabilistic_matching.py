"""Probabilistic person matching (segwarehouse.identity.probabilistic) on synthetic records.

The records are generated here (numpy, seeded): people with a skewed name distribution, and
for a few percent of them a second record without shared e-mail or phone, carrying a nickname,
a typo, swapped names, a 'St.' address variant, a shifted or missing birth date, or a move.
Streets use the demo generator's word lists (segwarehouse.generator.vocab); nothing else of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pytest

from segwarehouse.generator.vocab import STREET_NAMES, STREET_SUFFIXES
from segwarehouse.identity.probabilistic import (
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    PARAMETER_COLUMNS,
    MatchSettings,
    link_person_records,
    link_person_records_with_model,
    model_parameters,
    train_person_model,
)


def _words(text: str) -> tuple[str, ...]:
    """'a|b|c' -> ('a', 'b', 'c'): keeps the vocabularies below compact."""
    return tuple(text.split("|"))


# "Formal:Nickname" or "Formal"; the most frequent names come first.
FIRST_NAMES: tuple[tuple[str, str | None], ...] = tuple(
    (formal, nickname or None)
    for formal, _, nickname in (
        entry.partition(":")
        for entry in _words(
            "Robert:Bob|Mary|William:Bill|Elizabeth:Liz|James:Jim|Margaret:Peggy|Michael:Mike|"
            "Katherine:Kate|Richard:Rick|Jennifer:Jenny|Thomas:Tom|Patricia:Patty|"
            "Charles:Charlie|Susan:Sue|Daniel:Dan|Rebecca:Becky|Joseph:Joe|Victoria:Vicky|"
            "Anthony:Tony|Deborah:Debbie|Linda|Barbara|Sarah|Karen|Nancy|Lisa|Sandra|Ashley|"
            "Emily|Donna|Michelle|Carol|Amanda|Melissa|Laura|Anna|Emma|Olivia|Sophie|Hannah|"
            "Julia|Lena|Marie|Paul|Mark|George|Kevin|Brian|Ryan|Jason|Eric|Peter|Frank|Scott|"
            "Henry|Lukas|Jan|Pierre|Louis|Noah"
        )
    )
)
LAST_NAMES: tuple[str, ...] = _words(
    "Smith|Johnson|Williams|Brown|Jones|Garcia|Miller|Davis|Rodriguez|Martinez|Hernandez|"
    "Lopez|Gonzalez|Wilson|Anderson|Thomas|Taylor|Moore|Jackson|Martin|Lee|Perez|Thompson|"
    "White|Harris|Sanchez|Clark|Ramirez|Lewis|Robinson|Walker|Young|Allen|King|Wright|Scott|"
    "Torres|Nguyen|Hill|Flores|Green|Adams|Nelson|Baker|Hall|Rivera|Campbell|Mitchell|"
    "Carter|Roberts|Evans|Turner|Phillips|Parker|Collins|Edwards|Stewart|Morris|Murphy|Cook|"
    "Rogers|Morgan|Cooper|Peterson|Reed|Bailey|Bell|Kelly|Howard|Ward|Cox|Richardson|Wood|"
    "Watson|Brooks|Bennett|Gray|James|Hughes|Price|Sanders|Myers|Long|Ross|Foster|Powell|"
    "Jenkins|Perry|Russell|Sullivan|O'Brien|O'Connor|McDonald|MacLeod|Fitzgerald|Patel|Khan|"
    "Singh|Chen|Wang|Li|Zhang|Kim|Park|Tanaka|Muller|Schmidt|Schneider|Fischer|Weber|Meyer|"
    "Dubois|Durand|Lefebvre|de Vries|van Dijk|Jansen|Bakker|Visser|Smit"
)
# (city, country, postal prefix, postal style, weight)
CITIES: tuple[tuple[str, str, str, str, float], ...] = (
    ("New York", "US", "100", "us", 8),
    ("Los Angeles", "US", "900", "us", 6),
    ("Chicago", "US", "606", "us", 5),
    ("Houston", "US", "770", "us", 4),
    ("Phoenix", "US", "850", "us", 3),
    ("Philadelphia", "US", "191", "us", 3),
    ("San Diego", "US", "921", "us", 2),
    ("Dallas", "US", "752", "us", 2),
    ("Seattle", "US", "981", "us", 2),
    ("Boston", "US", "021", "us", 2),
    ("London", "GB", "SW", "gb", 6),
    ("Manchester", "GB", "M", "gb", 2),
    ("Leeds", "GB", "LS", "gb", 1),
    ("Glasgow", "GB", "G", "gb", 1),
    ("Berlin", "DE", "10", "de", 3),
    ("Hamburg", "DE", "20", "de", 2),
    ("München", "DE", "80", "de", 2),
    ("Köln", "DE", "50", "de", 1),
    ("Paris", "FR", "75", "de", 3),
    ("Lyon", "FR", "69", "de", 1),
    ("Amsterdam", "NL", "10", "nl", 2),
    ("Rotterdam", "NL", "30", "nl", 1),
)
NICKNAMES: dict[str, str] = {
    nick.lower(): formal.lower() for formal, nick in FIRST_NAMES if nick is not None
}
DAY0 = np.datetime64("1940-01-01")
DUPLICATE_KINDS = ("nickname", "first_typo", "last_typo", "swap", "same_name")


@dataclass(frozen=True)
class Synthetic:
    """Generated records and the truth about them."""

    records: pd.DataFrame
    truth: frozenset[tuple[str, str]]
    kind_of_pair: dict[tuple[str, str], str]


def _skewed(rng: np.random.Generator, n: int, size: int, power: float) -> np.ndarray:
    """Indices 0..size-1, the low ones more frequent."""
    return np.floor(rng.random(n) ** power * size).astype(np.int64)


def _postal_codes(rng: np.random.Generator, city_idx: np.ndarray) -> np.ndarray:
    """A postal code per person, in the style of the city's country."""
    n = len(city_idx)
    a, b = rng.integers(0, 100, n), rng.integers(0, 1000, n)
    letters = np.array(list("ABDE"))
    out = []
    for i, c in enumerate(city_idx):
        _, _, prefix, style, _ = CITIES[c]
        if style == "us":
            out.append(f"{prefix}{a[i]:02d}")
        elif style == "gb":
            out.append(
                f"{prefix}{a[i] // 10} {a[i] % 10}{letters[b[i] % 4]}{letters[b[i] // 4 % 4]}"
            )
        elif style == "nl":
            out.append(f"{prefix}{a[i]:02d} {letters[b[i] % 4]}{letters[b[i] // 4 % 4]}")
        else:
            out.append(f"{prefix}{b[i]:03d}")
    return np.array(out, dtype=object)


def _typo(rng: np.random.Generator, name: str) -> str:
    """Drop, double or swap one character after the first."""
    if len(name) < 3:
        return name + name[-1]
    pos = int(rng.integers(1, len(name) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return name[:pos] + name[pos + 1 :]
    if kind == 1:
        return name[: pos + 1] + name[pos:]
    swapped = name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :]
    return swapped if swapped != name else name[:pos] + name[pos + 1 :]


def _street(no: int, street: int, suffix: int, abbreviated: bool) -> str:
    """House number, street name and suffix (full or abbreviated)."""
    full, abbr = STREET_SUFFIXES[suffix]
    return f"{no} {STREET_NAMES[street]} {abbr if abbreviated else full}"


def make_people(
    n_people: int, duplicate_share: float, seed: int, household_share: float = 0.05
) -> Synthetic:
    """People with one record each, a share of them with a hard-to-match second record.

    A ``household_share`` of the people share their address with the next person, who takes
    their last name 70% of the time but not their first name (hard negatives).
    """
    rng = np.random.default_rng(seed)
    first_idx = _skewed(rng, n_people, len(FIRST_NAMES), 1.4)
    last_idx = _skewed(rng, n_people, len(LAST_NAMES), 1.3)
    weights = np.array([c[4] for c in CITIES], dtype=float)
    city_idx = rng.choice(len(CITIES), n_people, p=weights / weights.sum())
    birth_day = rng.integers(0, 65 * 365, n_people)
    street_no = rng.integers(1, 1000, n_people)
    street_idx = rng.integers(0, len(STREET_NAMES), n_people)
    suffix_idx = rng.integers(0, len(STREET_SUFFIXES), n_people)
    abbreviated = rng.random(n_people) < 0.2
    birth_null = rng.random(n_people) < 0.05
    head = np.flatnonzero(rng.random(n_people - 1) < household_share)
    mate = head + 1
    for column in (city_idx, street_no, street_idx, suffix_idx, abbreviated):
        column[mate] = column[head]
    same_last = rng.random(len(head)) < 0.7
    last_idx[mate[same_last]] = last_idx[head[same_last]]
    same_first = first_idx[mate] == first_idx[head]
    first_idx[mate[same_first]] = (first_idx[head[same_first]] + 1) % len(FIRST_NAMES)
    postal = _postal_codes(rng, city_idx)
    postal[mate] = postal[head]

    first = np.array([FIRST_NAMES[i][0] for i in first_idx], dtype=object)
    last = np.array([LAST_NAMES[i] for i in last_idx], dtype=object)
    main = pd.DataFrame(
        {
            "person": np.arange(n_people),
            "first_name": first,
            "last_name": last,
            "birth_date": np.where(birth_null, np.datetime64("NaT"), DAY0 + birth_day),
            "street_address": [
                _street(*args)
                for args in zip(street_no, street_idx, suffix_idx, abbreviated, strict=True)
            ],
            "postal_code": postal,
            "city": [CITIES[c][0] for c in city_idx],
            "country_code": [CITIES[c][1] for c in city_idx],
            "email": [
                f"{f.lower()}.{la.lower().replace(' ', '')}{p}@example.org"
                for f, la, p in zip(first, last, range(n_people), strict=True)
            ],
            "phone": [f"+1555{p:07d}" for p in range(n_people)],
            "kind": "main",
        }
    )

    dup_people = np.flatnonzero(rng.random(n_people) < duplicate_share)
    dups = [
        _duplicate(rng, main.iloc[p], street_no[p], street_idx[p], suffix_idx[p], abbreviated[p])
        for p in dup_people
    ]
    records = pd.concat([main, pd.DataFrame(dups, columns=main.columns)], ignore_index=True)
    records.insert(0, "record_id", [f"C{i:08d}" for i in rng.permutation(len(records))])
    return _with_truth(records)


def _duplicate(
    rng: np.random.Generator,
    person: pd.Series,
    street_no: int,
    street_idx: int,
    suffix_idx: int,
    abbreviated: bool,
) -> dict:
    """A second record of ``person``: altered name, address variant, no shared identifier."""
    formal = person["first_name"]
    nickname = dict(FIRST_NAMES)[formal]
    kind = DUPLICATE_KINDS[int(rng.choice(5, p=[0.25, 0.15, 0.15, 0.2, 0.25]))]
    if kind == "nickname" and nickname is None:
        kind = "first_typo"
    first, last = formal, person["last_name"]
    if kind == "nickname":
        first = nickname
    elif kind == "first_typo":
        first = _typo(rng, first)
    elif kind == "last_typo":
        last = _typo(rng, last)
    elif kind == "swap":
        first, last = last, first
    if rng.random() < 0.15:
        first, last = first.upper(), last.upper()

    birth = person["birth_date"]
    draw = rng.random()
    if pd.notna(birth) and draw < 0.25:
        shift = int(rng.integers(1, 31)) * (1 if rng.random() < 0.5 else -1)
        birth = birth + pd.Timedelta(days=shift)
    elif draw < 0.40:
        birth = pd.NaT

    postal = person["postal_code"]
    if rng.random() < 0.05:  # moved within the city
        street = _street(
            int(rng.integers(1, 1000)), int(rng.integers(0, len(STREET_NAMES))), suffix_idx, False
        )
        postal = postal[:-1] + str((int(postal[-1], 36) + 1) % 10)
    else:
        flip = rng.random() < 0.6
        street = _street(street_no, street_idx, suffix_idx, abbreviated != flip)
    if rng.random() < 0.3:
        postal = postal.lower().replace(" ", "")
    return {
        **person.to_dict(),
        "first_name": first,
        "last_name": last,
        "birth_date": birth,
        "street_address": street,
        "postal_code": postal,
        "email": f"{first.lower()}{int(rng.integers(1000, 9999))}@mail.example"
        if rng.random() < 0.6
        else None,
        "phone": None,
        "kind": kind,
    }


def _with_truth(records: pd.DataFrame) -> Synthetic:
    """Truth pairs (record_id_l < record_id_r) of records of the same person."""
    truth: set[tuple[str, str]] = set()
    kinds: dict[tuple[str, str], str] = {}
    for _, group in records.groupby("person"):
        if len(group) < 2:
            continue
        ids = sorted(group["record_id"])
        pair = (ids[0], ids[1])
        truth.add(pair)
        kinds[pair] = group.loc[group["kind"] != "main", "kind"].iloc[0]
    return Synthetic(records.reset_index(drop=True), frozenset(truth), kinds)


def load(con: duckdb.DuckDBPyConnection, name: str, records: pd.DataFrame) -> None:
    """Create table ``name`` with the module's input columns from ``records``."""
    frame = records.drop(columns=["person", "kind"], errors="ignore")
    con.register("frame_to_load", frame)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {name} AS
        SELECT record_id::VARCHAR AS record_id, first_name::VARCHAR AS first_name,
               last_name::VARCHAR AS last_name, birth_date::DATE AS birth_date,
               street_address::VARCHAR AS street_address, postal_code::VARCHAR AS postal_code,
               city::VARCHAR AS city, country_code::VARCHAR AS country_code,
               email::VARCHAR AS email, phone::VARCHAR AS phone
        FROM frame_to_load
        """
    )
    con.unregister("frame_to_load")


def pairs_of(links: pd.DataFrame) -> set[tuple[str, str]]:
    """Linked pairs as a set."""
    return set(zip(links["record_id_l"], links["record_id_r"], strict=True))


def precision_recall(found: set, truth: frozenset) -> tuple[float, float]:
    """Pairwise precision and recall."""
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / max(len(truth), 1)


HANDMADE_COLUMNS = list(INPUT_COLUMNS)
HANDMADE = pd.DataFrame(
    [
        # a nickname and a 'St.' variant, no shared e-mail or phone
        (
            "X01",
            "Robert",
            "Quinlan",
            "1971-05-09",
            "12 Oak Street",
            "60601",
            "Chicago",
            "US",
            "rq@example.org",
            "+15550101",
        ),
        ("X02", "Bob", "Quinlan", "1971-05-09", "12 Oak St.", "60601", "Chicago", "US", None, None),
        # swapped names, birth date missing, postal code typed differently
        (
            "X03",
            "Margaret",
            "Okafor",
            "1988-11-30",
            "7 Linden Avenue",
            "SW1 4AB",
            "London",
            "GB",
            "mo@example.org",
            None,
        ),
        (
            "X04",
            "Okafor",
            "Margaret",
            None,
            "7 Linden Ave",
            "sw14ab",
            "London",
            "GB",
            "m.okafor@mail.example",
            None,
        ),
        # two different people: common name, same city and postal code, different birth
        # dates and streets
        (
            "X05",
            "Mary",
            "Smith",
            "1950-01-01",
            "3 Main Street",
            "10001",
            "New York",
            "US",
            None,
            None,
        ),
        (
            "X06",
            "Mary",
            "Smith",
            "1984-07-15",
            "88 River Road",
            "10001",
            "New York",
            "US",
            None,
            None,
        ),
        # day and month transposed and two postcode digits swapped: no exact birth date or
        # postcode to block on (the old rules never compared this pair)
        (
            "X07",
            "Ingrid",
            "Halvorsen",
            "1979-03-08",
            "41 Birch Lane",
            "30309",
            "Atlanta",
            "US",
            None,
            None,
        ),
        (
            "X08",
            "Ingrid",
            "Halvorsen",
            "1979-08-03",
            "41 Birch Ln",
            "30390",
            "Atlanta",
            "US",
            None,
            None,
        ),
    ],
    columns=HANDMADE_COLUMNS,
).assign(birth_date=lambda f: pd.to_datetime(f["birth_date"]))
HANDMADE_TRUTH = frozenset({("X01", "X02"), ("X03", "X04"), ("X07", "X08")})


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory database shared by the module's tests."""
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def people(con: duckdb.DuckDBPyConnection) -> Synthetic:
    """4,000 people, 8% with a hard duplicate, 5% sharing a home, plus handmade cases."""
    synthetic = make_people(4000, duplicate_share=0.08, seed=7)
    load(con, "people", pd.concat([synthetic.records, HANDMADE], ignore_index=True))
    return Synthetic(synthetic.records, synthetic.truth | HANDMADE_TRUTH, synthetic.kind_of_pair)


@pytest.fixture(scope="module")
def linked(con: duckdb.DuckDBPyConnection, people: Synthetic):
    """The linkage of ``people`` with the default settings."""
    return link_person_records_with_model(con, "people", MatchSettings(), NICKNAMES)


def test_precision_and_recall_against_truth(linked, people: Synthetic) -> None:
    precision, recall = precision_recall(pairs_of(linked.pairs), people.truth)
    assert precision >= 0.99, precision
    assert recall >= 0.9, recall


@pytest.mark.parametrize("kind", ["nickname", "swap", "first_typo", "last_typo"])
def test_each_kind_of_hard_duplicate_is_found(linked, people: Synthetic, kind: str) -> None:
    of_kind = frozenset(p for p, k in people.kind_of_pair.items() if k == kind)
    assert len(of_kind) >= 20
    _, recall = precision_recall(pairs_of(linked.pairs), of_kind)
    assert recall >= 0.9, (kind, recall)


def test_nickname_and_swapped_names_link_with_their_evidence(linked) -> None:
    fields = linked.pairs.set_index(["record_id_l", "record_id_r"])["agreeing_fields"]
    assert fields[("X01", "X02")] == "name,birth_date,postal_code,street_address,city"
    assert fields[("X03", "X04")] == "name,postal_code,street_address,city"


def test_transposed_birth_date_and_postcode_typo_link(linked) -> None:
    fields = linked.pairs.set_index(["record_id_l", "record_id_r"])["agreeing_fields"]
    assert fields[("X07", "X08")] == "name,birth_date,postal_code,street_address,city"


def test_common_name_in_same_city_with_other_birth_date_and_address_is_not_linked(
    linked,
) -> None:
    assert ("X05", "X06") not in pairs_of(linked.pairs)


def test_output_columns_and_values(linked) -> None:
    pairs = linked.pairs
    assert tuple(pairs.columns) == OUTPUT_COLUMNS
    assert (pairs["record_id_l"] < pairs["record_id_r"]).all()
    assert not pairs.duplicated(["record_id_l", "record_id_r"]).any()
    assert pairs["match_probability"].dtype == "float64"
    assert pairs["match_weight"].dtype == "float64"
    assert pairs["match_probability"].between(0.99, 1.0).all()
    order = ["name", "birth_date", "postal_code", "street_address", "city"]
    for fields in pairs["agreeing_fields"]:
        names = fields.split(",") if fields else []
        assert names == [name for name in order if name in names]


def test_model_parameters_are_trained(con, linked) -> None:
    parameters = model_parameters(con, "people", MatchSettings(), NICKNAMES)
    pd.testing.assert_frame_equal(parameters, linked.parameters)
    assert tuple(parameters.columns) == PARAMETER_COLUMNS
    assert set(parameters["comparison"]) == {
        "probability_two_random_records_match",
        "name",
        "birth_date",
        "address",
    }
    levels = parameters[~parameters["is_null_level"].astype(bool)]
    levels = levels[levels["comparison"] != "probability_two_random_records_match"]
    assert levels["m_probability"].between(0, 1, inclusive="right").all()
    assert levels["u_probability"].between(0, 1, inclusive="right").all()
    weight = levels.set_index(["comparison", "level"])["match_weight"]
    assert weight[("name", "exact full name")] > 5
    assert weight[("name", "first and last name swapped")] > 5
    assert weight[("birth_date", "exact birth date")] > 5
    assert weight[("address", "same street, postal code and city")] > 5
    for comparison in ("name", "birth_date", "address"):
        assert weight[(comparison, "all other")] < 0


def test_same_input_same_output(con, people: Synthetic, linked, capsys) -> None:
    catalog_sql = (
        "SELECT database_name, schema_name, table_name FROM duckdb_tables() UNION ALL "
        "SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal"
    )
    catalog = sorted(con.sql(catalog_sql).fetchall())
    schema = con.sql("SELECT current_database(), current_schema()").fetchall()

    again = link_person_records_with_model(con, "people", MatchSettings(), NICKNAMES)

    pd.testing.assert_frame_equal(again.pairs, linked.pairs)
    pd.testing.assert_frame_equal(again.parameters, linked.parameters)
    assert sorted(con.sql(catalog_sql).fetchall()) == catalog  # scratch tables dropped
    assert con.sql("SELECT current_database(), current_schema()").fetchall() == schema
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_a_stored_model_links_like_the_training_run(con, people: Synthetic, linked) -> None:
    """The model_json of a run, passed back, scores the same pairs without training; a model
    trained alone (train_person_model) is the same model."""
    assert linked.model_json is not None
    kept = link_person_records_with_model(
        con, "people", MatchSettings(), NICKNAMES, trained_model=linked.model_json
    )
    pd.testing.assert_frame_equal(kept.pairs, linked.pairs)
    pd.testing.assert_frame_equal(kept.parameters, linked.parameters)
    trained = train_person_model(con, "people", MatchSettings(), NICKNAMES)
    assert trained.pairs.empty and trained.model_json == linked.model_json
    # a model trained on other records scores these with its own m and u: other weights
    load(con, "few_people", people.records.head(1500))
    other = train_person_model(con, "few_people", MatchSettings(), NICKNAMES)
    rescored = link_person_records_with_model(
        con, "people", MatchSettings(), NICKNAMES, trained_model=other.model_json
    )
    assert not rescored.parameters.equals(linked.parameters)


def test_crm_table_with_only_names_birth_dates_and_addresses() -> None:
    # No e-mail, phone or country; 5% of birth dates are the placeholder 1900-01-01.
    synthetic = make_people(2000, duplicate_share=0.06, seed=21)
    placeholder = np.random.default_rng(3).random(len(synthetic.records)) < 0.05
    records = synthetic.records.assign(email=None, phone=None, country_code=None)
    records.loc[placeholder, "birth_date"] = pd.Timestamp("1900-01-01")
    with duckdb.connect() as connection:
        load(connection, "crm_people", records)
        links = link_person_records(connection, "crm_people", MatchSettings(), NICKNAMES)
    precision, recall = precision_recall(pairs_of(links), synthetic.truth)
    assert precision >= 0.99, precision
    assert recall >= 0.9, recall
    on_placeholder = set(records.loc[placeholder, "record_id"])
    for _, link in links.iterrows():
        if {link["record_id_l"], link["record_id_r"]} <= on_placeholder:
            assert "birth_date" not in link["agreeing_fields"]


@pytest.mark.usefixtures("people")  # reads the `people` table that fixture loads
def test_empty_input_gives_empty_frame(con) -> None:
    con.execute("CREATE OR REPLACE TABLE no_people AS SELECT * FROM people LIMIT 0")
    result = link_person_records_with_model(con, "no_people", MatchSettings(), NICKNAMES)
    assert result.pairs.empty
    assert tuple(result.pairs.columns) == OUTPUT_COLUMNS
    assert not result.trained
    assert tuple(model_parameters(con, "no_people").columns) == PARAMETER_COLUMNS


def test_records_without_candidate_pairs_give_empty_frame(con) -> None:
    load(con, "strangers", HANDMADE[HANDMADE["record_id"].isin(["X01", "X03"])])
    links = link_person_records(con, "strangers", MatchSettings(), nicknames=None)
    assert links.empty
    assert tuple(links.columns) == OUTPUT_COLUMNS


@pytest.mark.usefixtures("people")  # reads the `people` table that fixture loads
def test_rejects_missing_columns_and_duplicate_ids(con) -> None:
    con.execute("CREATE OR REPLACE TABLE no_city AS SELECT * EXCLUDE (city) FROM people")
    with pytest.raises(ValueError, match="city"):
        link_person_records(con, "no_city", MatchSettings())
    con.execute(
        "CREATE OR REPLACE TABLE twice AS SELECT * FROM people UNION ALL "
        "SELECT * FROM people WHERE record_id = 'X01'"
    )
    with pytest.raises(ValueError, match="not unique"):
        link_person_records(con, "twice", MatchSettings())
    with pytest.raises(ValueError, match="threshold"):
        MatchSettings(threshold=1.5)


def test_long_em_does_not_underflow(con, people: Synthetic) -> None:
    # Without the m floor inside EM, m of levels no match shows shrinks each iteration
    # until Splink raises (m below 1e-300); this runs EM far past convergence.
    settings = MatchSettings(em_max_iterations=200, em_convergence=1e-15)
    links = link_person_records(con, "people", settings, NICKNAMES)
    precision, recall = precision_recall(pairs_of(links), people.truth)
    assert precision >= 0.99
    assert recall >= 0.9
