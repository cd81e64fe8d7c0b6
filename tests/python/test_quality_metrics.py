"""The DuckDB metrics give every expectation the result GX's pandas engine gives on the whole
frame: same success, counts and percentages, same examples (fewer than 20 failures here)."""

from __future__ import annotations

import math

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pytest

from segwarehouse.quality.metrics import EXAMPLES, SUPPORTED, UnsupportedExpectation, validate
from segwarehouse.quality.suites import Lookups, all_suites

# 200 rows with nulls, NaN, duplicates, out-of-range and off-pattern values in known places
FRAME = """
select
    i,
    case when i % 50 = 7 then null else 'cus_' || lpad(printf('%x', i), 16, '0') end as key,
    case when i in (3, 4) then 'cus_' || lpad(printf('%x', 1), 16, '0')
         when i = 9 then 'CUS_bad' else 'cus_' || lpad(printf('%x', i), 16, '0') end as dup_key,
    case when i % 40 = 1 then 'shipped' when i % 33 = 0 then null
         else ['completed', 'cancelled', 'returned'][1 + i % 3] end as status,
    case when i = 5 then 'nan'::double when i % 45 = 2 then null when i % 60 = 11 then 1.5
         else (i % 10) / 10 end as rate,
    (i % 7)::bigint as a,
    case when i % 30 = 4 then null when i % 25 = 3 then (i % 7) + 1 else i % 7 end::double as b,
    case when i in (10, 11) then 'x' else 's' || (i % 90) end as seg,
    case when i in (10, 11) then 42 else i // 90 end as seg_id,
    i % 64 = 0 as flag
from range(200) t(i)
"""

EXPECTATIONS = [
    gxe.ExpectTableRowCountToBeBetween(min_value=1),
    gxe.ExpectTableRowCountToBeBetween(min_value=500),
    gxe.ExpectColumnValuesToNotBeNull(column="key"),
    gxe.ExpectColumnValuesToNotBeNull(column="key", mostly=0.95),
    gxe.ExpectColumnValuesToNotBeNull(column="rate", mostly=0.99),
    gxe.ExpectColumnValuesToBeInSet(
        column="status", value_set=["completed", "cancelled", "returned"]
    ),
    gxe.ExpectColumnValuesToBeInSet(
        column="status", value_set=["completed", "cancelled", "returned"], mostly=0.9
    ),
    gxe.ExpectColumnValuesToBeInSet(column="flag", value_set=[False]),
    gxe.ExpectColumnValuesToBeInSet(column="a", value_set=[0, 1, 2, 3, 4, 5]),
    gxe.ExpectColumnValuesToNotBeInSet(column="key", value_set=["cus_0000000000000002"]),
    gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=1),
    gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0.2, strict_min=True, mostly=0.5),
    gxe.ExpectColumnValuesToBeBetween(column="i", max_value=150, strict_max=True),
    gxe.ExpectColumnValuesToMatchRegex(column="dup_key", regex=r"^cus_[0-9a-f]{16,32}$"),
    gxe.ExpectColumnValuesToBeUnique(column="dup_key"),
    gxe.ExpectColumnValuesToBeUnique(column="key"),
    gxe.ExpectColumnPairValuesToBeEqual(column_A="a", column_B="b"),
    gxe.ExpectCompoundColumnsToBeUnique(column_list=["seg", "seg_id"]),
    gxe.ExpectCompoundColumnsToBeUnique(column_list=["i", "seg"]),
]
COMPARED = (
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
    "unexpected_percent_total",
)


def _pandas_results(frame, expectations):
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("p").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame}
    )
    return [batch.validate(e, result_format="SUMMARY") for e in expectations]


def _same(left, right) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right)
    return left == right


def _missing_as_none(value):
    if isinstance(value, dict | tuple | list):
        values = value.values() if isinstance(value, dict) else value
        return tuple(_missing_as_none(v) for v in values)
    value = value.item() if hasattr(value, "item") else value  # numpy scalars
    return None if isinstance(value, float) and math.isnan(value) else value


def _examples(result) -> list:
    """The examples, sorted, a missing value (pandas: NaN, ours: None) as None."""
    values = result.result.get("partial_unexpected_list") or []
    return sorted((_missing_as_none(v) for v in values), key=repr)


@pytest.fixture(scope="module")
def pandas_results() -> list:
    """GX's pandas engine on the whole frame: what the gate computed before."""
    with duckdb.connect() as con:
        return _pandas_results(con.execute(FRAME).df(), EXPECTATIONS)


@pytest.mark.parametrize("index", range(len(EXPECTATIONS)))
def test_duckdb_metrics_match_the_pandas_engine(index: int, pandas_results: list):
    expectation = EXPECTATIONS[index]
    with duckdb.connect() as con:
        [ours] = validate(con, FRAME, [expectation])
    theirs = pandas_results[index]
    assert ours.success == theirs.success
    for key in COMPARED:
        assert _same(ours.result.get(key), theirs.result.get(key)), (key, ours, theirs)
    if theirs.result.get("unexpected_count", 0) <= EXAMPLES:
        assert _examples(ours) == _examples(theirs)
    else:  # both list 20 of the failing values: pandas the first ones, DuckDB the smallest
        assert len(_examples(ours)) == len(_examples(theirs)) == EXAMPLES


def test_the_frame_breaks_most_expectations():
    """The comparison above is not a comparison of passes only."""
    with duckdb.connect() as con:
        results = validate(con, FRAME, EXPECTATIONS)
    assert sum(not r.success for r in results) >= 12
    assert len(results) == len(EXPECTATIONS)


def test_one_pass_gives_the_same_results_as_one_at_a_time():
    with duckdb.connect() as con:
        together = validate(con, FRAME, EXPECTATIONS)
        alone = [validate(con, FRAME, [e])[0] for e in EXPECTATIONS]
    assert [r.to_json_dict()["result"] for r in together] == [
        r.to_json_dict()["result"] for r in alone
    ]


def test_missing_column_fails_with_its_name_and_unknown_expectation_is_refused():
    with duckdb.connect() as con:
        [result] = validate(con, FRAME, [gxe.ExpectColumnValuesToNotBeNull(column="nope")])
        assert not result.success
        assert "nope" in result.exception_info["exception_message"]
        with pytest.raises(UnsupportedExpectation, match=r"metrics\.py"):
            validate(con, FRAME, [gxe.ExpectColumnMeanToBeBetween(column="i", min_value=0)])


def test_every_suite_expectation_is_supported():
    for suite in all_suites():
        for expectation in suite.build(Lookups()):
            assert isinstance(expectation, SUPPORTED), (suite.name, expectation)
