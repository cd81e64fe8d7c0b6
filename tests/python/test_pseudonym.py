"""Keyed pseudonyms: what the serving file publishes for joins cannot be reversed without the key.

- the dbt macro pseudonym_hmac equals Python's hmac (HMAC-SHA-256) on many values and keys;
- a build without a usable key stops with one line saying how to create one;
- an attacker holding the serving file enumerates phone numbers around real ones and every
  generated email, hashed with unsalted SHA-256 and as they are, and finds none of them; the
  same enumeration does find them in the unpublished activation schema (it works);
- the key appears nowhere in compiled SQL or dbt's logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import BUILD_VARS, Workspace, frame
from segwarehouse import publish
from segwarehouse.cli import main as cli_main
from segwarehouse.dbt_runner import run_dbt
from segwarehouse.settings import (
    DEMO_PSEUDONYM_KEY,
    PSEUDONYM_KEY_ENV,
    PseudonymKeyError,
    Settings,
    pseudonym_key_file,
    write_pseudonym_key,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
MISSING_KEY_LINE = "no pseudonym key: set SEGMENTS_PSEUDONYM_KEY_FILE"
VALUES = [
    "",
    "a",
    "jane.doe+news@gmail.com",
    "+14155550123",
    "14155550123",
    "Zoë.Ørsted@exämple.de",
    "日本語のメール@例え.jp",
    "emoji \U0001f600 and nul-free \t tab",
    "quote ' and backslash \\ and newline\n",
    "x" * 63,
    "y" * 64,
    "z" * 65,
    "long " * 2_000,
]
# Key files as an operator might write them: 32 bytes (keygen), 64 bytes (one block), and
# upper-case hex spread over lines with surrounding whitespace.
KEY_TEXTS = [
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    "f0" * 64,
    "  DEADBEEF" * 8 + "\n\n  CAFEBABE" * 4 + "  \n",
]


def _python_hmac(key_text: str, value: str) -> str:
    key = bytes.fromhex(re.sub(r"\s", "", key_text))
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- the key file (no dbt) -------------------------------------------------------------------


def _settings(root: Path, raw_dir: str = "data/raw") -> Settings:
    return Settings(root, root / raw_dir, root / "warehouse/segments.duckdb", root / "truth")


def test_configured_key_file_is_used_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = write_pseudonym_key(tmp_path / "k" / "pseudonym.key")
    assert key.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}\n", key.read_text())
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(key))
    assert pseudonym_key_file(_settings(tmp_path)) == key
    with pytest.raises(FileExistsError):
        write_pseudonym_key(key)  # never overwrites a key

    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(tmp_path / "absent.key"))
    with pytest.raises(PseudonymKeyError, match=r"absent\.key does not exist.*segwarehouse keygen"):
        pseudonym_key_file(_settings(tmp_path))
    bad = tmp_path / "bad.key"
    bad.write_text("password123-SECRET\n")
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(bad))
    with pytest.raises(PseudonymKeyError, match="32 to 64 bytes as hex") as error:
        pseudonym_key_file(_settings(tmp_path))
    assert "SECRET" not in str(error.value)


def test_demo_landing_folder_gets_a_generated_git_ignored_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    path = pseudonym_key_file(_settings(tmp_path))
    assert path == tmp_path / DEMO_PSEUDONYM_KEY and path.is_file()
    assert f"created the demo's pseudonym key {path}" in capsys.readouterr().err
    assert pseudonym_key_file(_settings(tmp_path)).read_text() == path.read_text()  # kept
    repo = Path(__file__).resolve().parents[2]
    assert DEMO_PSEUDONYM_KEY.startswith("warehouse/")
    assert "warehouse/*" in (repo / ".gitignore").read_text().splitlines()


def test_a_users_landing_folder_without_a_key_stops_before_dbt_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    monkeypatch.setenv("SEGMENTS_RAW_DIR", str(tmp_path / "landing"))
    with pytest.raises(PseudonymKeyError) as error:
        run_dbt(tmp_path, ["build"])
    message = str(error.value)
    assert "\n" not in message and message.startswith("no pseudonym key")
    assert "segwarehouse keygen" in message and "landing" in message
    assert not (tmp_path / "warehouse").exists()  # no key made up for real data


def test_refresh_of_a_users_folder_without_a_key_says_so_in_one_line(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "crm_customers.csv").write_text("customer_id,email\nc1,a@example.com\n")
    (landing / "orders.csv").write_text("order_id,order_ts,status,order_total\n")
    env = {
        **os.environ,
        "SEGMENTS_RAW_DIR": str(landing),
        "SEGMENTS_WAREHOUSE": str(tmp_path / "work.duckdb"),
        "SEGMENTS_SERVING": str(tmp_path / "serving.duckdb"),
    }
    env.pop(PSEUDONYM_KEY_ENV)
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "segwarehouse"), "refresh"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == publish.EXIT_ERROR
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("segwarehouse refresh: error: no pseudonym key: ")
    assert "segwarehouse keygen" in lines[0]
    assert not (tmp_path / "work.duckdb").exists()  # dbt never started


def test_keygen_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "conf" / "pseudonym.key"
    assert cli_main(["keygen", str(path)]) == 0
    assert f"export {PSEUDONYM_KEY_ENV}={path}" in capsys.readouterr().out
    first = path.read_text()
    assert cli_main(["keygen", str(path)]) == 2
    assert "exists; not overwritten" in capsys.readouterr().err
    assert path.read_text() == first


# --- the macro against Python's hmac ----------------------------------------------------------


def test_hmac_macro_equals_python_hmac(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "macro.key"
    key_file.write_text(KEY_TEXTS[0])
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(key_file))
    run = workspace.dbt(
        "compile",
        "--inline",
        "select v, {{ pseudonym_hmac('v') }} as h from hmac_input",
        "--output",
        "json",
        "--quiet",
    )
    assert run.returncode == 0, run.output
    document, _ = json.JSONDecoder().raw_decode(run.output[run.output.index("{") :])
    sql = document["compiled"]
    assert str(key_file) in sql
    values = pd.DataFrame({"v": [*VALUES, None]})
    with duckdb.connect() as con:
        con.register("hmac_input", values)
        # The key is read when the query runs: the same compiled SQL serves every key.
        for key_text in KEY_TEXTS:
            assert re.sub(r"\s", "", key_text).lower() not in sql.lower()
            key_file.write_text(key_text)
            got = dict(con.execute(sql).fetchall())
            assert got.pop(None) is None
            assert got == {value: _python_hmac(key_text, value) for value in VALUES}
        key_file.write_text("abc\n")  # 1.5 bytes: refused, the content not echoed
        with pytest.raises(duckdb.Error, match="must hold 32 to 64 bytes") as error:
            con.execute(sql).fetchall()
        assert "abc" not in str(error.value)
        key_file.unlink()
        with pytest.raises(duckdb.Error, match="does not exist or is empty"):
            con.execute(sql).fetchall()


# --- a build without a key --------------------------------------------------------------------


def test_build_without_a_key_fails_with_one_line(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    # The session's vars, so that dbt starts from the saved parse state (the hook stops it).
    run = workspace.dbt("build", dbt_vars=BUILD_VARS)
    assert run.returncode != 0
    lines = [line for line in run.output.splitlines() if MISSING_KEY_LINE in line]
    assert len(lines) == 1, run.output
    assert "segwarehouse keygen" in lines[0] and "openssl rand -hex 32" in lines[0]
    assert "Traceback" not in run.output
    assert not workspace.warehouse.exists() or not workspace.query(
        "select * from duckdb_tables() where schema_name like '%marts%'"
    )

    bad = tmp_path / "bad.key"
    bad.write_text("hunter2-SECRET\n")
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(bad))
    run = workspace.dbt("build", dbt_vars=BUILD_VARS)
    assert run.returncode != 0 and f"pseudonym key file {bad} must hold 32" in run.output
    assert "SECRET" not in run.output
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, str(tmp_path / "absent.key"))
    run = workspace.dbt("build", dbt_vars=BUILD_VARS)
    assert run.returncode != 0 and "absent.key (SEGMENTS_PSEUDONYM_KEY_FILE) does not exist" in (
        run.output
    )


# --- the serving file resists enumeration -----------------------------------------------------


@pytest.fixture(scope="module")
def serving(built: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built warehouse audited and published, as BI tools get it."""
    root = tmp_path_factory.mktemp("pseudonym_serving")
    work = root / "work.duckdb"
    shutil.copyfile(built.warehouse, work)
    serving = root / "serving.duckdb"
    code, record = publish.refresh(work, serving, None, None, log=lambda _: None)
    assert code == publish.EXIT_OK, record.failures
    return serving


def _candidates(built: Workspace) -> tuple[pd.DataFrame, list[str]]:
    """What an attacker tries: +/- 5,000 numbers around 3 real phones (E.164 with and without
    '+'), and every generated email; each as it is and as its unsalted SHA-256. The phones are
    of published customers in an ads audience, so the unpublished ads hashes hold them too."""
    golden = frame(
        built,
        "select email, phone from intermediate.int_customer_golden_records "
        "where customer_key in (select customer_key from marts.dim_customers)",
    )
    phones = sorted(
        frame(
            built,
            "select distinct golden.phone from intermediate.int_customer_golden_records as golden "
            "inner join activation.audience_candidates as candidates "
            "on golden.customer_key = candidates.customer_key "
            "and candidates.phone_sha256 = sha256(golden.phone) "
            "inner join marts.dim_customers as customers "
            "on golden.customer_key = customers.customer_key",
        )["phone"]
    )
    assert len(phones) > 10 and all(re.fullmatch(r"\+[1-9][0-9]{6,14}", p) for p in phones)
    real_phones = [phones[0], phones[len(phones) // 2], phones[-1]]
    guesses = {
        f"+{number}"
        for phone in real_phones
        for number in range(int(phone[1:]) - 5_000, int(phone[1:]) + 5_001)
    }
    guesses |= {guess[1:] for guess in guesses}
    emails = set(golden["email"].dropna())
    assert len(emails) > 1_000
    plain = sorted(guesses | emails)
    values = plain + [_sha256(value) for value in plain]
    return pd.DataFrame({"guess": values}), real_phones


def _matches(database: Path, guesses: pd.DataFrame, schemas: tuple[str, ...]) -> dict[str, int]:
    """Per `schema.table.column` (every VARCHAR column of those schemas): values equal to a
    guess, case-insensitively; and how many columns were scanned."""
    found = {}
    with duckdb.connect(str(database), read_only=True) as con:
        con.register("guesses", guesses)
        con.execute("create temp table guess as select distinct lower(guess) as g from guesses")
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and data_type = 'VARCHAR' "
            f"and schema_name in ({', '.join('?' for _ in schemas)})",
            list(schemas),
        ).fetchall()
        found["(columns scanned)"] = len(columns)
        for schema, table, column in columns:
            [(count,)] = con.execute(
                f'select count(*) from "{schema}"."{table}" '
                f'where lower("{column}") in (select g from guess)'
            ).fetchall()
            if count:
                found[f"{schema}.{table}.{column}"] = count
    return found


def test_enumerating_phones_and_emails_finds_nothing_in_the_serving_file(
    built: Workspace, serving: Path, pseudonym_key: Path
) -> None:
    guesses, real_phones = _candidates(built)
    assert len(guesses) > 60_000
    with duckdb.connect(str(serving), read_only=True) as con:
        schemas = tuple(
            row[0]
            for row in con.execute("select distinct schema_name from duckdb_tables()").fetchall()
        )
    assert set(schemas) == {"marts", "audit"}
    found = _matches(serving, guesses, schemas)
    assert found.pop("(columns scanned)") > 50
    assert found == {}

    # The enumeration works: the unpublished ads hashes (unsalted, as the platforms require)
    # fall to it in the work warehouse.
    leaked = _matches(built.warehouse, guesses, ("activation",))
    assert leaked.get("activation.audience_candidates.email_sha256", 0) > 100, leaked
    assert leaked.get("activation.audience_candidates.phone_sha256", 0) >= 3, leaked

    # What is published instead joins: dim_customers and customer_identity_map carry the
    # HMAC under the session's key, equal to Python's.
    key_text = pseudonym_key.read_text()
    with duckdb.connect(str(serving), read_only=True) as con:
        for phone in real_phones:
            [(customers, identifiers)] = con.execute(
                "select (select count(*) from marts.dim_customers where phone_hmac = $1), "
                "(select count(*) from marts.customer_identity_map "
                "where identifier_type = 'phone' and identifier_hmac = $1)",
                [_python_hmac(key_text, phone)],
            ).fetchall()
            assert customers >= 1 and identifiers >= 1, phone
        columns = {
            (table, column)
            for table, column in con.execute(
                "select table_name, column_name from duckdb_columns() "
                "where schema_name = 'marts' and column_name like '%sha256%'"
            ).fetchall()
        }
    assert columns == set()


def test_the_key_is_nowhere_in_compiled_sql_or_logs(built: Workspace, pseudonym_key: Path) -> None:
    key_hex = pseudonym_key.read_text().strip()
    scanned = 0
    for folder in (built.scratch / "target", built.scratch / "logs"):
        for path in folder.rglob("*"):
            if path.is_file():
                scanned += 1
                assert key_hex not in path.read_text(errors="replace"), path
    compiled = built.scratch / "target" / "compiled" / "segments" / "models" / "marts"
    assert str(pseudonym_key) in (compiled / "identity" / "dim_customers.sql").read_text()
    assert (built.scratch / "target" / "run" / "segments" / "models").is_dir()
    assert (built.scratch / "logs" / "dbt.log").is_file() and scanned > 100
    assert os.environ[PSEUDONYM_KEY_ENV] == str(pseudonym_key)
