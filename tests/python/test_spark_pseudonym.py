"""spark__pseudonym_hmac (macros/cross_db/pseudonym_hmac.sql): the keyed pseudonym as dbt
compiles it for the spark target, run by a local Spark session, equals Python's
hmac-sha256 under the same key file; a malformed key stops the query naming the file.

Needs the optional extra `.[spark]` and Java, like test_spark_portability.py; skipped, with
the reason, without them. No warehouse build: the macro is compiled with `dbt compile
--inline` in this process and the SQL run on literals."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import skip_without_spark
from segwarehouse import scale_out  # imports pyspark lazily
from segwarehouse.settings import PSEUDONYM_KEY_ENV

skip_without_spark(__name__)

# Plain ASCII, an identifier, non-ASCII (UTF-8 bytes), the empty string; null is checked apart.
VALUES = ("alice@example.com", "cus_0000000000000abc", "Zoë Ünal", "")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory, dbt_project: Path) -> Iterator[Any]:
    """A local session: dbt-spark's `method: session` compiles against it."""
    session = scale_out.local_spark_session(tmp_path_factory.mktemp("spark") / "warehouse")
    yield session
    session.stop()


def compile_pseudonyms(tmp_path: Path, values: tuple[str, ...]) -> str:
    """`select pseudonym_hmac('<v>') as p0, ...` compiled for the spark target."""
    columns = [f"{{{{ pseudonym_hmac(\"'{value}'\") }}}} as p{i}" for i, value in enumerate(values)]
    columns.append("{{ pseudonym_hmac('cast(null as string)') }} as p_null")
    invoked = scale_out.invoke_dbt(
        [
            "compile",
            "--inline",
            "select " + ", ".join(columns),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ]
    )
    assert invoked.success, invoked.exception
    return invoked.result.results[0].node.compiled_code


def test_spark_pseudonym_equals_python_hmac(
    spark: Any, pseudonym_key: Path, tmp_path: Path
) -> None:
    sql = compile_pseudonyms(tmp_path, VALUES)
    # the key is read at run time: the compiled SQL holds the path, never the key
    key_hex = pseudonym_key.read_text(encoding="ascii").strip()
    assert str(pseudonym_key) in sql and key_hex not in sql
    row = spark.sql(sql).collect()[0]
    key = bytes.fromhex(key_hex)
    for i, value in enumerate(VALUES):
        expected = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        assert row[f"p{i}"] == expected, value
    assert row["p_null"] is None


def test_a_malformed_key_stops_the_query_naming_the_file(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_key = tmp_path / "short.key"
    bad_key.write_text("abcd\n", encoding="ascii")
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(bad_key))
    sql = compile_pseudonyms(tmp_path, ("alice@example.com",))
    with pytest.raises(Exception, match="does not hold 32 to 64 bytes") as raised:
        spark.sql(sql).collect()
    assert str(bad_key) in str(raised.value)
