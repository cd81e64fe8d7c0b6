"""Probabilistic (Fellegi-Sunter) linkage of CRM person records with Splink on DuckDB.

Links person records that share no identifier but describe the same person: typos in names,
nicknames (Bob/Robert, through a caller-supplied nickname map), first and last name swapped,
address variants ('Street' / 'St.'), birth dates a few days off or missing.

Everything runs on the caller's DuckDB connection (in dbt-duckdb: the Python model's
``session``). Scratch data lives in TEMP tables with unique names (Splink's intermediate tables
included, see :class:`_TempTableDuckDBAPI`), all dropped before returning, so nothing is ever
written to the warehouse file and the connection's default schema is not changed.

Standardisation (one TEMP table, columns used by the model):

* ``first_name_clean`` / ``last_name_std``: lower case, accents stripped, letters only
  ("O'Brien" -> "obrien").
* ``first_name_std``: ``first_name_clean`` mapped through the nickname map (bob -> robert).
* ``full_name_std``: ``first_name_std || ' ' || last_name_std`` (term frequencies of full names).
* ``postal_code_std``: upper case, letters and digits only ("sw1a 1aa" -> "SW1A1AA").
* ``street_std``: lower case, punctuation removed, common street words abbreviated
  ("12 Main Street" and "12 Main St." -> "12 main st"), see ``STREET_ABBREVIATIONS``.
* ``city_std``: lower case, accents stripped, punctuation removed.
* ``birth_date``: NULL when it is a placeholder (a date far more frequent than the others).

Blocking rules (candidate pairs are the union, each pair scored once; ``BLOCKING_RULE_KEYS``):
one strong field agreeing exactly is enough, so a typo in any other field cannot hide a
match, and the comparisons decide. A strong field is paired with a cheap second key where it
alone would make blocks too large at 1M customers (a birth date is shared by ~60 records):

1-4. same birth date and same first initial, last initial, city or first two characters of
     the postal code;
5-6. same postal code and same first or last name;
7. same street (with house number);
8. same standardised first and last name and city;
9. same first name, last initial and city; 10. same last name, first initial and city;
11. first and last name swapped.

Candidate pairs per rule, on FEBRL and on 1M generated customers: docs/real_data.md.

Comparisons (levels in order):

* ``name``: both names null / exact full name (nicknames standardised, term-frequency
  adjusted) / first and last name swapped / Jaro-Winkler >= 0.92 on both / one name exact
  and the other one edit apart / Jaro-Winkler >= 0.88 on both / one name missing, the other
  exact / one name missing and the other similar, or swapped with typos / last name only (tf)
  / first name only (tf) / else. Typo levels compare the first name as typed
  (``first_name_clean``), not its nickname-standardised form.
* ``birth_date``: null / exact / one character different (Damerau-Levenshtein on the text:
  a mistyped or two swapped digits) / day and month transposed / within a month / within a
  year / else.
* ``address``: all parts null / same street, postal code and city / same street and postal
  code / similar street (Jaro-Winkler >= 0.92), same postal code / same street, postal code
  one edit apart / same street and city / similar street and postal code one edit or same
  city / same street only / same postal code and city / same postal code / postal code one
  edit and same city / postal code one edit / same city / else. Postal code, street and city
  are one comparison, not three, because they are strongly dependent: as three independent
  comparisons a shared address counted about 14 bits more than its evidence, enough to link
  housemates (measured on synthetic households). Where the city is implied by the postal code
  the joint levels are as common as the postal code alone and weigh the same.

``agreeing_fields`` lists ``name`` and ``birth_date`` when their level is one of the
agreeing ones above (name: up to Jaro-Winkler >= 0.88 on both and one name missing, the other
exact; birth date: up to within a month), and ``postal_code`` (equal or one edit apart),
``street_address`` (equal or Jaro-Winkler >= 0.92) and ``city`` (equal) from the parts of the
address, in that order.

E-mail and phone are deliberately not compared: the records this model is for share none by
construction (identifier matches are the deterministic part of identity resolution), so the
columns carry no evidence here; country is implied by postal code and city.

Training, without labels:

* u-probabilities: Splink's random sampling (seeded); a level absent from the sample gets
  u = 1 / sampled pairs rather than Splink's generic default. The sample holds true matches
  too (a share ``prior`` of it); their part, prior * m, is taken out of u after training
  (:func:`_remove_matches_from_u`: negligible at 1M records, 3 to 4 bits per agreement on
  1,000);
* m-probabilities: EM on three training blockings, ``birth_date`` (trains name and address),
  ``full_name_std`` (trains birth date and address) and ``street_std`` (trains name and
  birth date), each capped at ``MatchSettings.max_pairs_for_em`` pairs by Splink's hash
  sampling. m is floored at ``MatchSettings.m_probability_floor`` in every iteration (see
  :func:`_em_m_floor`); a level that no blocking shows gets m = u;
* prior (probability that two random records match): pairs agreeing on a deterministic rule
  (same standardised full name and birth date, or same full name, postal code and street),
  divided by the rules' recall and by the number of possible pairs. The recall is estimated
  from the trained m (:func:`_estimated_rules_recall`) unless
  ``MatchSettings.deterministic_rules_recall`` fixes it;
* term frequencies of names (scoring) count people, not records (see
  :func:`_register_people_term_frequencies`).

The whole procedure is deterministic (Splink's samples hash record ids with the seed, EM has
no randomness); scores are rounded to 9 decimals so that float summation order inside DuckDB
cannot show through.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
from splink import Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink.blocking_rule_library import CustomRule
from splink.internals import expectation_maximisation as splink_em
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level import ComparisonLevel
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.comparison_level_library import CustomLevel
from splink.internals.comparison_library import CustomComparison, DateOfBirthComparison
from splink.internals.duckdb.database_api import DuckDBAPI

logger = logging.getLogger(__name__)

INPUT_COLUMNS: tuple[str, ...] = (
    "record_id",
    "first_name",
    "last_name",
    "birth_date",
    "street_address",
    "postal_code",
    "city",
    "country_code",
    "email",
    "phone",
)
OUTPUT_COLUMNS: tuple[str, ...] = (
    "record_id_l",
    "record_id_r",
    "match_probability",
    "match_weight",
    "agreeing_fields",
)
PARAMETER_COLUMNS: tuple[str, ...] = (
    "comparison",
    "level",
    "comparison_vector_value",
    "is_null_level",
    "m_probability",
    "u_probability",
    "bayes_factor",
    "match_weight",
    "has_tf_adjustments",
    "sql_condition",
)
PRIOR_PARAMETER = "probability_two_random_records_match"

# Whole words abbreviated in street addresses before comparison (after lower-casing and
# replacing punctuation with spaces). 'strasse' is also abbreviated at the end of a word
# ('hauptstrasse' -> 'hauptstr').
STREET_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("street", "st"),
    ("avenue", "ave"),
    ("road", "rd"),
    ("lane", "ln"),
    ("drive", "dr"),
    ("boulevard", "blvd"),
    ("court", "ct"),
    ("place", "pl"),
    ("square", "sq"),
    ("terrace", "ter"),
    ("crescent", "cres"),
    ("highway", "hwy"),
    ("parkway", "pkwy"),
    ("apartment", "apt"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
)

SCORE_DECIMALS = 9

# Recall of the deterministic rules assumed for the prior EM starts from (EM re-estimates the
# match share within each training blocking; the final prior uses the estimated recall).
DEFAULT_RULES_RECALL = 0.7

# Birth dates this much more frequent than average are placeholders (see standardisation).
PLACEHOLDER_DATE_FACTOR = 20
PLACEHOLDER_DATE_MIN_COUNT = 100


@dataclass(frozen=True)
class MatchSettings:
    """Tunable parameters of the probabilistic linkage (blocking rules and comparisons are code).

    Attributes:
        threshold: minimum match_probability for a pair to be returned.
        max_pairs_for_u: number of random record pairs sampled to estimate u-probabilities.
        seed: seed of the u sampling; together with the input it fixes the output.
        max_pairs_for_em: cap on the pairs of one EM training blocking (deterministic,
            hash-based sample of records when a blocking would produce more).
        em_max_iterations: maximum EM iterations per training blocking.
        em_convergence: EM stops when no m-probability moves by more than this.
        deterministic_rules_recall: share of all true matches found by the deterministic
            rules used to estimate the prior (see module docstring); None (default): estimated
            from the trained m-probabilities.
        term_frequency_adjustments: adjust name agreement for how common the name is
            (a shared "Mary Smith" is weaker evidence than a shared "Ottoline Quayle").
        m_probability_floor: smallest m-probability kept from EM. EM sees a few thousand
            matches at most, so it cannot tell "never happens to a match" from "did not happen
            in this sample"; without a floor a single disagreement can weigh -100 bits.
    """

    threshold: float = 0.99
    max_pairs_for_u: float = 1e6
    seed: int = 42
    max_pairs_for_em: float = 5e6
    em_max_iterations: int = 25
    em_convergence: float = 1e-4
    deterministic_rules_recall: float | None = None
    term_frequency_adjustments: bool = True
    m_probability_floor: float = 1e-4

    def __post_init__(self) -> None:
        """Reject settings the model cannot run with."""
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold}")
        if self.max_pairs_for_u < 1 or self.max_pairs_for_em < 1:
            raise ValueError("max_pairs_for_u and max_pairs_for_em must be at least 1")
        if self.em_max_iterations < 1 or self.em_convergence <= 0:
            raise ValueError("em_max_iterations must be >= 1 and em_convergence > 0")
        recall = self.deterministic_rules_recall
        if recall is not None and not 0.0 < recall <= 1.0:
            raise ValueError("deterministic_rules_recall must be within (0, 1]")
        if not 1e-300 <= self.m_probability_floor < 1.0:
            raise ValueError("m_probability_floor must be within [1e-300, 1)")


DEFAULT_SETTINGS = MatchSettings()


@dataclass(frozen=True)
class LinkageResult:
    """Linked pairs and the trained model that produced them.

    Attributes:
        pairs: one row per linked pair, columns ``OUTPUT_COLUMNS``.
        parameters: m and u per comparison level, columns ``PARAMETER_COLUMNS``, plus one row
            (comparison ``probability_two_random_records_match``) holding the prior in
            ``m_probability`` and its match weight. Empty when no model could be trained.
        record_count: number of input records.
        trained: False when the input was too small to train on (then ``pairs`` is empty).
        model_json: the trained Splink model (its settings with m, u and the prior, as
            Splink's ``save_model_to_json`` writes them); None when untrained. Passing it back
            as ``trained_model`` scores with it instead of training again.
    """

    pairs: pd.DataFrame
    parameters: pd.DataFrame
    record_count: int
    trained: bool = True
    model_json: str | None = None


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def link_person_records(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings = DEFAULT_SETTINGS,
    nicknames: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Pairs of person records in relation ``records`` that the model links.

    Args:
        con: an open DuckDB connection on which ``records`` can be queried.
        records: name of a table or view with the columns ``INPUT_COLUMNS`` (record_id unique
            and not null, everything else nullable).
        settings: thresholds and training parameters.
        nicknames: lower-case nickname -> canonical first name ('bob' -> 'robert').

    Returns:
        One row per linked pair (record_id_l < record_id_r) with match_probability >=
        ``settings.threshold``: record_id_l, record_id_r, match_probability, match_weight,
        agreeing_fields. Empty (same columns) for empty input or no candidate pairs.
    """
    return link_person_records_with_model(con, records, settings, nicknames).pairs


def model_parameters(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings = DEFAULT_SETTINGS,
    nicknames: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Train the model on ``records`` and return its parameters (no scoring of pairs).

    See :class:`LinkageResult` for the columns.
    """
    return train_person_model(con, records, settings, nicknames).parameters


def train_person_model(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings = DEFAULT_SETTINGS,
    nicknames: Mapping[str, str] | None = None,
) -> LinkageResult:
    """Train on ``records`` without scoring: parameters and ``model_json`` (no pairs)."""
    return _run(con, records, settings, nicknames, score_pairs=False)


def link_person_records_with_model(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings = DEFAULT_SETTINGS,
    nicknames: Mapping[str, str] | None = None,
    trained_model: str | None = None,
) -> LinkageResult:
    """Linked pairs and the trained parameters from a single training run, or, given the
    ``model_json`` of an earlier run as ``trained_model``, from scoring with that model
    (standardisation and term frequencies are still computed from ``records``).

    Same other arguments as :func:`link_person_records`.
    """
    return _run(con, records, settings, nicknames, score_pairs=True, trained_model=trained_model)


def empty_pairs() -> pd.DataFrame:
    """An empty result with the output columns and dtypes."""
    return pd.DataFrame(
        {
            "record_id_l": pd.Series(dtype="str"),
            "record_id_r": pd.Series(dtype="str"),
            "match_probability": pd.Series(dtype="float64"),
            "match_weight": pd.Series(dtype="float64"),
            "agreeing_fields": pd.Series(dtype="str"),
        }
    )


def empty_parameters() -> pd.DataFrame:
    """An empty parameter table with the parameter columns."""
    return pd.DataFrame({column: pd.Series(dtype="object") for column in PARAMETER_COLUMNS})


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


def _run(
    con: duckdb.DuckDBPyConnection,
    records: str,
    settings: MatchSettings,
    nicknames: Mapping[str, str] | None,
    *,
    score_pairs: bool,
    trained_model: str | None = None,
) -> LinkageResult:
    """Standardise, train (or load ``trained_model``) and (optionally) score; always drops its
    scratch tables."""
    _check_input_columns(con, records)
    scratch = _ScratchNames()
    db_api = _TempTableDuckDBAPI(con)
    try:
        with _step("standardise records"):
            record_count = _prepare(con, records, nicknames or {}, scratch)
            # Only a training run needs them (each is a count over the records).
            training_rules = (
                [
                    keys
                    for keys in EM_TRAINING_BLOCKINGS
                    if _pairs_sharing_keys(con, scratch.input, keys) > 0
                ]
                if trained_model is None
                else []
            )
        if record_count < 2 or (trained_model is None and not training_rules):
            logger.info("%d records, nothing to train on: no links", record_count)
            return LinkageResult(empty_pairs(), empty_parameters(), record_count, trained=False)
        with _quiet_splink():
            if trained_model is None:
                with _step("count deterministic pairs"):
                    found = _deterministic_pairs(con, scratch.input)
                linker = _train(
                    db_api, scratch.input, record_count, settings, found, training_rules
                )
            else:
                linker = Linker(
                    db_api.register(scratch.input), json.loads(trained_model), log_level=None
                )
            parameters = _parameters_frame(linker)
            model_json = _model_json(linker)
            with _step("score candidate pairs"):
                if score_pairs:
                    _register_people_term_frequencies(con, db_api, linker, scratch)
                    pairs = _score(con, linker, settings.threshold)
                else:
                    pairs = empty_pairs()
        logger.info("%d records, %d linked pairs", record_count, len(pairs))
        return LinkageResult(pairs, parameters, record_count, trained=True, model_json=model_json)
    finally:
        with _quiet_splink():
            db_api.delete_tables_created_by_splink_from_db()
        for name in (scratch.input, scratch.nicknames, *scratch.term_frequencies.values()):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def _model_json(linker: Linker) -> str:
    """The trained model as Splink saves it, without the linker's random instance id (the
    same training gives the same text)."""
    model = linker.misc.save_model_to_json()
    model.pop("linker_uid", None)
    return json.dumps(model, sort_keys=True)


def _prepare(
    con: duckdb.DuckDBPyConnection,
    records: str,
    nicknames: Mapping[str, str],
    scratch: _ScratchNames,
) -> int:
    """Create the nickname and standardised-records TEMP tables; return the record count."""
    _create_nickname_table(con, scratch.nicknames, nicknames)
    _create_standardised_table(con, records, scratch.nicknames, scratch.input)
    return _check_record_ids(con, scratch.input)


@dataclass(frozen=True)
class _ScratchNames:
    """Unique names of this run's TEMP tables."""

    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def input(self) -> str:
        """Standardised records."""
        return f"__segwarehouse_pm_input_{self.uid}"

    @property
    def nicknames(self) -> str:
        """Nickname map."""
        return f"__segwarehouse_pm_nicknames_{self.uid}"

    @property
    def term_frequencies(self) -> dict[str, str]:
        """Term-frequency table of each term-frequency adjusted column."""
        return {
            column: f"__segwarehouse_pm_tf_{column}_{self.uid}" for column in TERM_FREQUENCY_COLUMNS
        }


class _TempTableDuckDBAPI(DuckDBAPI):
    """Splink's DuckDB backend, writing its intermediate tables as TEMP tables.

    Splink materialises every step with ``CREATE TABLE``, i.e. into the connection's current
    schema (in dbt: the warehouse file). TEMP tables stay in memory (spilling to DuckDB's temp
    directory), disappear with the connection and resolve by plain name like the originals.
    """

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        """``CREATE TEMP TABLE`` instead of Splink's ``CREATE TABLE``."""
        self.delete_table_from_database(physical_name)
        return f"CREATE TEMP TABLE {physical_name} AS\n{sql}"


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Log the duration of a step (INFO on this module's logger)."""
    start = time.perf_counter()
    yield
    logger.info("%s: %.1f s", name, time.perf_counter() - start)


@contextmanager
def _quiet_splink() -> Iterator[None]:
    """Silence Splink's logger (INFO chatter, the warning about the default max_pairs)."""
    splink_logger = logging.getLogger("splink")
    previous = splink_logger.level
    splink_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        splink_logger.setLevel(previous)


# ---------------------------------------------------------------------------------------------
# Input preparation
# ---------------------------------------------------------------------------------------------


def _check_input_columns(con: duckdb.DuckDBPyConnection, records: str) -> None:
    """Raise ValueError when ``records`` lacks one of ``INPUT_COLUMNS``."""
    present = {row[0].lower() for row in con.sql(f"DESCRIBE SELECT * FROM {records}").fetchall()}
    missing = [column for column in INPUT_COLUMNS if column not in present]
    if missing:
        raise ValueError(f"{records} lacks column(s) {', '.join(missing)}")


def _check_record_ids(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Number of records; ValueError when record_id is null or not unique."""
    total, distinct, nulls = _one_row(
        con,
        f"SELECT count(*), count(DISTINCT record_id), count(*) - count(record_id) FROM {table}",
    )
    if nulls:
        raise ValueError(f"record_id is null in {nulls} record(s)")
    if distinct != total:
        raise ValueError(f"record_id is not unique ({total - distinct} duplicate(s))")
    return int(total)


def _one_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    """The single row of ``sql`` (the result is consumed, releasing the connection)."""
    rows = con.sql(sql).fetchall()
    return rows[0]


def _clean_name_sql(expression: str) -> str:
    """Lower case, accents stripped, letters only, '' -> NULL."""
    return (
        f"nullif(regexp_replace(lower(strip_accents(trim({expression}))), '[^a-z]', '', 'g'), '')"
    )


def _street_sql(expression: str) -> str:
    """Normalised street address: lower, punctuation -> space, street words abbreviated."""
    sql = (
        f"regexp_replace(replace(lower(strip_accents(trim({expression}))), 'ß', 'ss'), "
        "'[^a-z0-9]+', ' ', 'g')"
    )
    sql = f"regexp_replace({sql}, 'strasse\\b', 'str', 'g')"
    for word, abbreviation in STREET_ABBREVIATIONS:
        sql = f"regexp_replace({sql}, '\\b{word}\\b', '{abbreviation}', 'g')"
    return f"nullif(trim({sql}), '')"


def _create_nickname_table(
    con: duckdb.DuckDBPyConnection, name: str, nicknames: Mapping[str, str]
) -> None:
    """TEMP table nickname -> canonical, both cleaned like first names.

    Two nicknames that clean to the same key keep the alphabetically first canonical name.
    """
    con.execute(f"CREATE TEMP TABLE {name} (nickname VARCHAR, canonical VARCHAR)")
    if nicknames:
        frame = pd.DataFrame(
            {"nickname": list(nicknames.keys()), "canonical": list(nicknames.values())}
        )
        view = f"{name}_source"
        con.register(view, frame)
        try:
            con.execute(
                f"""
                INSERT INTO {name}
                SELECT nickname, min(canonical) FROM (
                  SELECT {_clean_name_sql("nickname")} AS nickname,
                         {_clean_name_sql("canonical")} AS canonical
                  FROM {view})
                WHERE nickname IS NOT NULL AND canonical IS NOT NULL
                GROUP BY nickname
                """
            )
        finally:
            con.unregister(view)


def _create_standardised_table(
    con: duckdb.DuckDBPyConnection, records: str, nicknames: str, name: str
) -> None:
    """TEMP table of the records with the standardised columns the model compares.

    A birth date carried by more than ``PLACEHOLDER_DATE_FACTOR`` times the average number of
    records per date (and more than ``PLACEHOLDER_DATE_MIN_COUNT``) is a placeholder such as
    1900-01-01 and becomes NULL: it is no evidence, and as a blocking key it would pair every
    record carrying it with every other.
    """
    con.execute(
        f"""
        CREATE TEMP TABLE {name} AS
        WITH cleaned AS (
          SELECT
            CAST(record_id AS VARCHAR) AS record_id,
            {_clean_name_sql("first_name")} AS first_name_clean,
            {_clean_name_sql("last_name")} AS last_name_std,
            TRY_CAST(birth_date AS DATE) AS birth_date_raw,
            nullif(regexp_replace(upper(trim(postal_code)), '[^A-Z0-9]', '', 'g'), '')
              AS postal_code_std,
            {_street_sql("street_address")} AS street_std,
            nullif(trim(regexp_replace(lower(strip_accents(trim(city))), '[^a-z0-9]+', ' ',
              'g')), '') AS city_std
          FROM {records}
        ),
        dated AS (
          SELECT *,
            count(*) OVER (PARTITION BY birth_date_raw) AS records_on_date,
            count(birth_date_raw) OVER () / greatest(count(DISTINCT birth_date_raw) OVER (), 1)
              AS records_per_date
          FROM cleaned
        )
        SELECT
          c.record_id,
          c.first_name_clean,
          coalesce(n.canonical, c.first_name_clean) AS first_name_std,
          c.last_name_std,
          coalesce(n.canonical, c.first_name_clean) || ' ' || c.last_name_std AS full_name_std,
          CASE WHEN c.records_on_date <= greatest({PLACEHOLDER_DATE_MIN_COUNT},
                                              {PLACEHOLDER_DATE_FACTOR} * c.records_per_date)
               THEN c.birth_date_raw END AS birth_date,
          c.postal_code_std,
          c.street_std,
          c.city_std,
          left(c.first_name_clean, 1) AS first_initial,
          left(c.last_name_std, 1) AS last_initial,
          year(c.birth_date_raw) AS birth_year,
          left(c.postal_code_std, 2) AS postal_prefix
        FROM dated AS c
        LEFT JOIN {nicknames} AS n ON n.nickname = c.first_name_clean
        ORDER BY c.record_id
        """
    )


# ---------------------------------------------------------------------------------------------
# Model definition
# ---------------------------------------------------------------------------------------------


def _prediction_blocking_rules() -> list[BlockingRuleCreator]:
    """Blocking rules generating the candidate pairs (see the module docstring)."""
    return [CustomRule(condition) for _, condition in PREDICTION_BLOCKING_RULES]


# Prediction blocking rules: name, then the columns of the left record that must equal the
# columns of the right record. Each rule needs one strong field to agree exactly, so a typo in
# any other field cannot hide a match; names (weak alone: thousands of records share one at
# 1M customers) are paired with one more field. Candidate pairs per rule on FEBRL and on 1M
# generated customers: docs/real_data.md.
_SAME_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("birth_date_first_initial", ("birth_date", "first_initial")),
    ("birth_date_last_initial", ("birth_date", "last_initial")),
    ("birth_date_city", ("birth_date", "city_std")),
    ("birth_date_postal_prefix", ("birth_date", "postal_prefix")),
    ("postal_code_first_name", ("postal_code_std", "first_name_std")),
    ("postal_code_last_name", ("postal_code_std", "last_name_std")),
    ("street", ("street_std",)),
    ("full_name_city", ("first_name_std", "last_name_std", "city_std")),
    ("first_name_last_initial_city", ("first_name_std", "last_initial", "city_std")),
    ("last_name_first_initial_city", ("last_name_std", "first_initial", "city_std")),
)
BLOCKING_RULE_KEYS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    *((name, keys, keys) for name, keys in _SAME_KEYS),
    ("names_swapped", ("first_name_clean", "last_name_std"), ("last_name_std", "first_name_clean")),
)
# The same rules as SQL conditions on the pair (l, r).
PREDICTION_BLOCKING_RULES: tuple[tuple[str, str], ...] = tuple(
    (name, " AND ".join(f"l.{a} = r.{b}" for a, b in zip(left, right, strict=True)))
    for name, left, right in BLOCKING_RULE_KEYS
)


# Columns whose exact agreement is term-frequency adjusted (see the name levels).
TERM_FREQUENCY_COLUMNS: tuple[str, ...] = ("full_name_std", "last_name_std", "first_name_std")

# EM training blockings, as equality keys (each trains the comparisons not using its columns).
EM_TRAINING_BLOCKINGS: tuple[tuple[str, ...], ...] = (
    ("birth_date",),
    ("full_name_std",),
    ("street_std",),
)

# Deterministic rules (equality keys) for the prior: near-certain matches.
DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (
    ("full_name_std", "birth_date"),
    ("full_name_std", "postal_code_std", "street_std"),
)


@dataclass(frozen=True)
class _Level:
    """A comparison level; ``agrees``: it counts as agreement in ``agreeing_fields``."""

    creator: ComparisonLevelCreator
    label: str
    agrees: bool = False


# Address parts in agreeing_fields, with their agreement condition on the compared columns.
ADDRESS_PART_AGREEMENT: tuple[tuple[str, str], ...] = (
    (
        "postal_code",
        "damerau_levenshtein(postal_code_std_l, postal_code_std_r) <= 1",
    ),
    (
        "street_address",
        "jaro_winkler_similarity(street_std_l, street_std_r) >= 0.92",
    ),
    ("city", "city_std_l = city_std_r"),
)


def _comparison(name: str, levels: list[_Level]) -> CustomComparison:
    """Splink comparison from labelled levels."""
    return CustomComparison(
        comparison_levels=[
            level.creator.configure(label_for_charts=level.label) for level in levels
        ],
        output_column_name=name,
    )


def _exact(column: str, *, tf: bool) -> ComparisonLevelCreator:
    """Exact match on ``column``, term-frequency adjusted on that column if ``tf``."""
    level = cll.ExactMatchLevel(column)
    if tf:
        level.configure(tf_adjustment_column=column)
    return level


def _name_levels(tf: bool) -> list[_Level]:
    """Forename/surname levels handling nicknames (standardised column), swaps and typos.

    Splink's ForenameSurnameComparison levels plus one: one name exact and the other one
    edit apart, for typos in short names that Jaro-Winkler rates low ('Km' / 'Kim',
    'Brbara' / 'Barbara': 0.61 and 0.86).
    """
    first, last = "first_name_std", "last_name_std"
    # Typos are measured on the name as typed: 'laim' is one transposition from 'liam', but
    # far from its standardised form 'william'.
    typed = "first_name_clean"
    return [
        _Level(cll.And(cll.NullLevel(first), cll.NullLevel(last)), "both names null"),
        _Level(_exact("full_name_std", tf=tf), "exact full name", agrees=True),
        _Level(
            cll.ColumnsReversedLevel("first_name_clean", last, symmetrical=True),
            "first and last name swapped",
            agrees=True,
        ),
        _Level(
            cll.And(cll.JaroWinklerLevel(typed, 0.92), cll.JaroWinklerLevel(last, 0.92)),
            "jaro-winkler >= 0.92 on both names",
            agrees=True,
        ),
        _Level(
            cll.Or(
                cll.And(cll.DamerauLevenshteinLevel(typed, 1), cll.ExactMatchLevel(last)),
                cll.And(cll.ExactMatchLevel(first), cll.DamerauLevenshteinLevel(last, 1)),
            ),
            "one name exact, the other one edit apart",
            agrees=True,
        ),
        _Level(
            cll.And(cll.JaroWinklerLevel(typed, 0.88), cll.JaroWinklerLevel(last, 0.88)),
            "jaro-winkler >= 0.88 on both names",
            agrees=True,
        ),
        _Level(
            cll.Or(
                cll.And(cll.NullLevel(first), _exact(last, tf=tf)),
                cll.And(_exact(first, tf=tf), cll.NullLevel(last)),
            ),
            "one name missing, the other exact",
            agrees=True,
        ),
        _Level(
            cll.Or(
                cll.And(cll.NullLevel(typed), cll.JaroWinklerLevel(last, 0.88)),
                cll.And(cll.JaroWinklerLevel(typed, 0.88), cll.NullLevel(last)),
                CustomLevel(
                    "jaro_winkler_similarity(first_name_clean_l, last_name_std_r) >= 0.88 "
                    "AND jaro_winkler_similarity(last_name_std_l, first_name_clean_r) >= 0.88"
                ),
            ),
            "one name missing, the other similar; or swapped with typos",
        ),
        _Level(_exact(last, tf=tf), "exact last name only"),
        _Level(_exact(first, tf=tf), "exact first name only"),
        _Level(cll.ElseLevel(), "all other"),
    ]


def _birth_date_levels() -> list[_Level]:
    """Splink's DateOfBirthComparison levels (exact, 1 character, 1 month, 1 year) plus day and
    month transposed; the one-character level is Damerau-Levenshtein on the yyyy-mm-dd text,
    so two adjacent digits swapped ('1987' / '1978') count as one typo."""
    creators = DateOfBirthComparison(
        "birth_date",
        input_is_string=False,
        datetime_thresholds=[1, 1],
        datetime_metrics=["month", "year"],
    ).create_comparison_levels()
    if len(creators) != 6:
        raise RuntimeError("unexpected DateOfBirthComparison levels (splink version?)")
    null, exact, _, within_month, within_year, other = creators
    return [
        _Level(null, "birth date null"),
        _Level(exact, "exact birth date", True),
        _Level(
            CustomLevel(
                "damerau_levenshtein(CAST(birth_date_l AS VARCHAR), "
                "CAST(birth_date_r AS VARCHAR)) <= 1"
            ),
            "birth date one character different",
            True,
        ),
        _Level(
            CustomLevel(
                "year(birth_date_l) = year(birth_date_r) "
                "AND month(birth_date_l) = day(birth_date_r) "
                "AND day(birth_date_l) = month(birth_date_r)"
            ),
            "birth date day and month transposed",
            True,
        ),
        _Level(within_month, "birth date within a month", True),
        _Level(within_year, "birth date within a year"),
        _Level(other, "all other"),
    ]


def _address_levels() -> list[_Level]:
    """Postal code, street and city as one comparison (they are not independent).

    City agreement has levels of its own beside a postal code agreement: where the city is
    implied by the postal code, sampling finds the joint level as common as the postal code
    alone and it weighs the same; where it is not (FEBRL), it counts.
    """
    postal, street, city = "postal_code_std", "street_std", "city_std"
    exact_postal, exact_street = cll.ExactMatchLevel(postal), cll.ExactMatchLevel(street)
    exact_city, similar_street = cll.ExactMatchLevel(city), cll.JaroWinklerLevel(street, 0.92)
    postal_one_edit = cll.DamerauLevenshteinLevel(postal, 1)
    return [
        _Level(
            cll.And(cll.NullLevel(postal), cll.NullLevel(street), cll.NullLevel(city)),
            "address null",
        ),
        _Level(
            cll.And(exact_street, exact_postal, exact_city),
            "same street, postal code and city",
            True,
        ),
        _Level(cll.And(exact_street, exact_postal), "same street and postal code", True),
        _Level(cll.And(similar_street, exact_postal), "similar street, same postal code", True),
        _Level(cll.And(exact_street, postal_one_edit), "same street, postal code one edit", True),
        _Level(cll.And(exact_street, exact_city), "same street and city", True),
        _Level(
            cll.And(similar_street, cll.Or(postal_one_edit, exact_city)),
            "similar street, postal code one edit or same city",
            True,
        ),
        _Level(exact_street, "same street only", True),
        _Level(cll.And(exact_postal, exact_city), "same postal code and city"),
        _Level(exact_postal, "same postal code"),
        _Level(cll.And(postal_one_edit, exact_city), "postal code one edit, same city"),
        _Level(postal_one_edit, "postal code one edit"),
        _Level(exact_city, "same city"),
        _Level(cll.ElseLevel(), "all other"),
    ]


def _comparison_levels(term_frequency_adjustments: bool = True) -> dict[str, list[_Level]]:
    """The model's comparisons: output name -> labelled levels (first level = null level)."""
    return {
        "name": _name_levels(term_frequency_adjustments),
        "birth_date": _birth_date_levels(),
        "address": _address_levels(),
    }


def _comparisons(term_frequency_adjustments: bool) -> list[ComparisonCreator]:
    """Splink comparison creators for the model."""
    return [
        _comparison(name, levels)
        for name, levels in _comparison_levels(term_frequency_adjustments).items()
    ]


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _keys_sql(keys: tuple[str, ...]) -> tuple[str, str]:
    """(column list, all-keys-not-null condition) for an equality blocking."""
    return ", ".join(keys), " AND ".join(f"{key} IS NOT NULL" for key in keys)


def _pairs_sharing_keys(con: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> int:
    """Number of record pairs agreeing (non-null) on all ``keys``."""
    columns, not_null = _keys_sql(keys)
    (pairs,) = _one_row(
        con,
        f"""
        SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM (
          SELECT count(*)::BIGINT AS n FROM {table} WHERE {not_null} GROUP BY {columns})
        """,
    )
    return int(pairs)


def _deterministic_pairs(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Distinct pairs agreeing on any of ``DETERMINISTIC_RULES`` (at least one, so the prior
    is never zero)."""
    selects = [
        f"SELECT l.record_id AS id_l, r.record_id AS id_r FROM {table} AS l JOIN {table} AS r "
        f"ON {' AND '.join(f'l.{key} = r.{key}' for key in keys)} AND l.record_id < r.record_id"
        for keys in DETERMINISTIC_RULES
    ]
    (found,) = _one_row(con, f"SELECT count(*) FROM ({' UNION '.join(selects)})")
    return max(int(found), 1)


def _prior(found: int, record_count: int, recall: float) -> float:
    """Probability that two random records match: the deterministic pairs divided by the
    rules' recall and by the number of possible pairs (at most 0.5)."""
    possible = record_count * (record_count - 1) / 2
    return min(found / recall / possible, 0.5)


def _m_of(linker: Linker, comparison: str, labels: tuple[str, ...]) -> float:
    """Sum of the trained m-probabilities of the levels ``labels`` of ``comparison``."""
    total = 0.0
    for item in linker._settings_obj.comparisons:
        if item.output_column_name != comparison:
            continue
        for level in item._comparison_levels_excluding_null:
            if level.label_for_charts in labels:
                total += level.m_probability
    return total


def _estimated_rules_recall(linker: Linker) -> float:
    """Share of true matches the deterministic rules find, from the trained m-probabilities.

    Rule 1 needs an exact full name and birth date, rule 2 an exact full name, street and
    postal code; with the model's own assumption (comparisons independent given a match) the
    union's recall is m(name) * (m(date) + m(address) - m(date) * m(address)). A fixed
    recall was right for one kind of data only: 0.7 held on generated records, but on FEBRL,
    whose names carry far more typos, the rules find 0.43 of the matches, and the prior came
    out at 0.63 of its true value.
    """
    name = _m_of(linker, "name", ("exact full name",))
    date = _m_of(linker, "birth_date", ("exact birth date",))
    address = _m_of(
        linker, "address", ("same street, postal code and city", "same street and postal code")
    )
    recall = name * (date + address - date * address)
    return min(max(recall, 0.05), 1.0)


def _train(
    db_api: _TempTableDuckDBAPI,
    table: str,
    record_count: int,
    settings: MatchSettings,
    deterministic_pairs: int,
    training_rules: list[tuple[str, ...]],
) -> Linker:
    """A Splink linker with u from random sampling, m from EM on the training blockings and
    the prior from the deterministic pairs and the rules' recall (``settings`` or estimated);
    u is then freed of the matches the random sample held."""
    initial_recall = settings.deterministic_rules_recall or DEFAULT_RULES_RECALL
    prior = _prior(deterministic_pairs, record_count, initial_recall)
    splink_settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=_comparisons(settings.term_frequency_adjustments),
        blocking_rules_to_generate_predictions=_prediction_blocking_rules(),
        probability_two_random_records_match=prior,
        em_convergence=settings.em_convergence,
        max_iterations=settings.em_max_iterations,
        # gamma_ columns (needed for agreeing_fields) come only with the matching columns
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(db_api.register(table), splink_settings, log_level=None)
    with _step("estimate u by random sampling"):
        linker.training.estimate_u_using_random_sampling(
            max_pairs=settings.max_pairs_for_u, seed=settings.seed
        )
    with _em_m_floor(settings.m_probability_floor):
        for keys in training_rules:
            with _step(f"EM blocked on {' + '.join(keys)}"):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*keys),
                    estimate_without_term_frequencies=True,
                    max_pairs=settings.max_pairs_for_em,
                )
    sampled_pairs = min(settings.max_pairs_for_u, record_count * (record_count - 1) / 2)
    _adjust_estimates(linker, 1.0 / sampled_pairs, settings.m_probability_floor)
    recall = settings.deterministic_rules_recall or _estimated_rules_recall(linker)
    prior = _prior(deterministic_pairs, record_count, recall)
    linker._settings_obj._probability_two_random_records_match = prior
    _remove_matches_from_u(linker, prior, 1.0 / sampled_pairs)
    return linker


_EM_PATCH_LOCK = threading.Lock()


@contextmanager
def _em_m_floor(m_floor: float) -> Iterator[None]:
    """Floor m-probabilities at every EM iteration, not only at the end.

    A level that no match shows in the training pairs sees its m shrink geometrically from
    one iteration to the next; Splink 5 raises once it falls below 1e-300 (it did at 1.3M
    synthetic records). Flooring inside the iterations (a pseudo-count, in effect) keeps EM
    finite. Splink has no option for it, so its per-level update is wrapped while training;
    the lock serialises concurrent trainings in one process (dbt threads).
    """
    original = splink_em.populate_m_u_from_lookup

    def floored(
        training_fixed_probabilities: set[str],
        comparison_level: ComparisonLevel,
        output_column_name: str,
        m_u_records_lookup: dict[str, dict[int, Any]],
    ) -> None:
        estimates = m_u_records_lookup.get(output_column_name, {})
        estimate = estimates.get(comparison_level.comparison_vector_value)
        if estimate is not None:
            m_probability = estimate.get("m_probability")
            if isinstance(m_probability, int | float) and m_probability < m_floor:
                estimate["m_probability"] = m_floor
        original(
            training_fixed_probabilities, comparison_level, output_column_name, m_u_records_lookup
        )

    with _EM_PATCH_LOCK:
        splink_em.populate_m_u_from_lookup = floored
        try:
            yield
        finally:
            splink_em.populate_m_u_from_lookup = original


def _adjust_estimates(linker: Linker, u_unobserved: float, m_floor: float) -> None:
    """Replace Splink's generic defaults for unobserved levels; floor m-probabilities.

    A level absent from the random sample gets u = ``u_unobserved`` (one in the number of
    sampled pairs) instead of Splink's default (around 1e-3, which would make rare agreements
    such as "same street and postal code" look common). A level absent from all EM blockings
    gets m = u, no evidence either way, instead of a default m possibly far above its u. EM
    estimates below ``m_floor`` are raised to it.
    """
    for comparison in linker._settings_obj.comparisons:
        for level in comparison._comparison_levels_excluding_null:
            if not level._has_estimated_u_values:
                level.u_probability = u_unobserved
            if not level._has_estimated_m_values:
                level.m_probability = level.u_probability
            elif level.m_probability < m_floor:
                level.m_probability = m_floor


def _remove_matches_from_u(linker: Linker, prior: float, u_floor: float) -> None:
    """Take the true matches out of the u-probabilities estimated by random sampling.

    The random pairs include matches, a share ``prior`` of them, so what sampling measures for
    a level is ``prior * m + (1 - prior) * u``. Ignoring it is harmless at a million records
    (prior ~1e-6) but not on small data: on the 1,000 FEBRL records (prior 1e-3) an exact birth
    date had u 0.00100, of which 0.00095 were matches, which cost every agreement 3 to 4 bits
    and true matches their place above the threshold. u is solved for, and kept at or above
    ``u_floor`` (one in the sampled pairs).
    """
    for comparison in linker._settings_obj.comparisons:
        for level in comparison._comparison_levels_excluding_null:
            observed = level.u_probability
            corrected = (observed - prior * level.m_probability) / (1.0 - prior)
            level.u_probability = max(corrected, u_floor)


def _parameters_frame(linker: Linker) -> pd.DataFrame:
    """m and u per comparison level of the trained model, plus the prior."""
    rows = []
    for record in linker._settings_obj._parameters_as_detailed_records:
        comparison = record.comparison_name
        if comparison == PRIOR_PARAMETER:
            rows.append(
                {
                    "comparison": PRIOR_PARAMETER,
                    "level": PRIOR_PARAMETER,
                    "m_probability": record.probability_two_random_records_match,
                    "match_weight": record.log2_bayes_factor,
                    "is_null_level": False,
                    "has_tf_adjustments": False,
                }
            )
            continue
        rows.append(
            {
                "comparison": comparison,
                "level": record.label_for_charts,
                "comparison_vector_value": record.comparison_vector_value,
                "is_null_level": record.is_null_level,
                "m_probability": record.m_probability,
                "u_probability": record.u_probability,
                "bayes_factor": record.bayes_factor,
                "match_weight": record.log2_bayes_factor,
                "has_tf_adjustments": record.has_tf_adjustments,
                "sql_condition": record.sql_condition,
            }
        )
    return pd.DataFrame(rows, columns=list(PARAMETER_COLUMNS))


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def _lowest_agreeing_gamma(levels: list[_Level]) -> int:
    """Smallest comparison vector value of an agreeing level.

    Splink numbers the non-null levels from n-1 (first) down to 0 (else); the agreeing levels
    must be the first ones.
    """
    non_null = levels[1:]
    agreeing = [level.agrees for level in non_null]
    count = sum(agreeing)
    if agreeing != [True] * count + [False] * (len(non_null) - count):
        raise ValueError("agreeing levels must come first")
    return len(non_null) - count


def _agreeing_fields_sql() -> str:
    """SQL expression listing the agreeing fields of a scored pair (see module docstring)."""
    levels = _comparison_levels()
    parts = [
        f"CASE WHEN gamma_{name} >= {_lowest_agreeing_gamma(levels[name])} THEN '{name}' END"
        for name in ("name", "birth_date")
    ]
    parts += [
        f"CASE WHEN {condition} THEN '{part}' END" for part, condition in ADDRESS_PART_AGREEMENT
    ]
    return f"concat_ws(',', {', '.join(parts)})"


def _register_people_term_frequencies(
    con: duckdb.DuckDBPyConnection,
    db_api: _TempTableDuckDBAPI,
    linker: Linker,
    scratch: _ScratchNames,
) -> None:
    """Term frequencies of names among people, not records, registered with the linker.

    Splink counts records, so the duplicates the model is looking for inflate the frequency
    of their own names: a name that only one person has, on two records, counts twice, and
    the pair's exact-name agreement loses a bit. On the 1,000 FEBRL records (two records per
    person on average) that kept true pairs under the threshold. Here a person is a distinct
    (standardised full name, birth date) - a record without a birth date counts as one - so
    a person's duplicates count once unless their name or birth date were mistyped.
    """
    people = (
        f"SELECT DISTINCT full_name_std, first_name_std, last_name_std, "
        f"coalesce(CAST(birth_date AS VARCHAR), record_id) AS person FROM {scratch.input}"
    )
    for column, table in scratch.term_frequencies.items():
        con.execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT {column}, count(*) / sum(count(*)) OVER () AS tf_{column}
            FROM ({people}) WHERE {column} IS NOT NULL GROUP BY {column}
            """
        )
        linker.table_management.register_term_frequency_lookup(
            db_api.table_to_splink_dataframe(table, table), column
        )


def _score(con: duckdb.DuckDBPyConnection, linker: Linker, threshold: float) -> pd.DataFrame:
    """Scored candidate pairs at or above ``threshold``, with their agreeing fields."""
    # Splink filters on the match weight; leave a margin and filter exactly below.
    weight_floor = _probability_to_weight(threshold) - 1e-6 if 0 < threshold < 1 else None
    predictions = linker.inference.predict(threshold_match_weight=weight_floor)
    try:
        frame = con.sql(
            f"""
            SELECT
              record_id_l,
              record_id_r,
              round(match_probability, {SCORE_DECIMALS}) AS match_probability,
              round(match_weight, {SCORE_DECIMALS}) AS match_weight,
              {_agreeing_fields_sql()} AS agreeing_fields
            FROM {predictions.physical_name}
            WHERE round(match_probability, {SCORE_DECIMALS}) >= {threshold!r}
            ORDER BY record_id_l, record_id_r
            """
        ).df()
    finally:
        with suppress(duckdb.Error):
            predictions.drop_table_from_database_and_remove_from_cache()
    if frame.empty:
        return empty_pairs()
    frame["match_probability"] = frame["match_probability"].astype("float64")
    frame["match_weight"] = frame["match_weight"].astype("float64")
    return frame[list(OUTPUT_COLUMNS)]


def _probability_to_weight(probability: float) -> float:
    """Match weight (log2 odds) of a probability strictly between 0 and 1."""
    return math.log2(probability / (1.0 - probability))


# ---------------------------------------------------------------------------------------------
# Blocking analysis
# ---------------------------------------------------------------------------------------------


def candidate_pair_counts(
    con: duckdb.DuckDBPyConnection,
    records: str,
    nicknames: Mapping[str, str] | None = None,
) -> list[tuple[str, int, int]]:
    """Exact candidate-pair counts of the prediction blocking rules on ``records``.

    One row per rule in ``PREDICTION_BLOCKING_RULES`` order: (rule name, pairs the rule
    generates on its own, pairs of the union of this and all earlier rules). The last
    cumulative figure is the number of pairs the model scores. Each rule's pairs are counted
    with the earlier rules' conditions excluded (as Splink does), so no pair is stored. Same
    input as :func:`link_person_records`; the scratch tables are dropped before returning.
    """
    _check_input_columns(con, records)
    scratch = _ScratchNames()
    try:
        _prepare(con, records, nicknames or {}, scratch)
        rows, union, earlier = [], 0, []
        for name, condition in PREDICTION_BLOCKING_RULES:
            excluded = " OR ".join(f"({rule})" for rule in earlier) or "false"
            own, new = _one_row(
                con,
                f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce({excluded}, false)) "
                f"FROM {scratch.input} AS l JOIN {scratch.input} AS r "
                f"ON ({condition}) AND l.record_id < r.record_id",
            )
            union += int(new)
            rows.append((name, int(own), union))
            earlier.append(condition)
        return rows
    finally:
        for name in (scratch.input, scratch.nicknames):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def rule_pair_counts(
    con: duckdb.DuckDBPyConnection,
    records: str,
    nicknames: Mapping[str, str] | None = None,
) -> list[tuple[str, int]]:
    """Candidate pairs each prediction blocking rule generates on its own, from group sizes
    (no pair is materialised: cheap at millions of records). Same input as
    :func:`candidate_pair_counts`; overlaps between rules are counted once per rule."""
    _check_input_columns(con, records)
    scratch = _ScratchNames()
    try:
        _prepare(con, records, nicknames or {}, scratch)
        rows = []
        for name, left, right in BLOCKING_RULE_KEYS:
            if left == right:
                rows.append((name, _pairs_sharing_keys(con, scratch.input, left)))
                continue
            # a cross-column rule: ordered pairs (x, y) with x.left = y.right, each unordered
            # pair found in both orders, a record matching itself once
            on = " AND ".join(f"l.{a} = r.{b}" for a, b in zip(left, right, strict=True))
            on_itself = " AND ".join(f"{a} = {b}" for a, b in zip(left, right, strict=True))
            (ordered, itself) = _one_row(
                con,
                f"""
                SELECT
                  (SELECT coalesce(sum(l.n * r.n), 0)::BIGINT FROM
                    (SELECT {", ".join(left)}, count(*) AS n FROM {scratch.input}
                     GROUP BY ALL) AS l
                    JOIN (SELECT {", ".join(right)}, count(*) AS n FROM {scratch.input}
                     GROUP BY ALL) AS r ON {on}),
                  (SELECT count(*) FROM {scratch.input} WHERE {on_itself})
                """,
            )
            rows.append((name, (int(ordered) - int(itself)) // 2))
        return rows
    finally:
        for name in (scratch.input, scratch.nicknames):
            con.execute(f"DROP TABLE IF EXISTS {name}")
