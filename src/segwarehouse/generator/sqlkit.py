"""SQL building blocks: hash-based random numbers, formatting macros, vocabulary variables.

Every pseudo-random number comes from ``u(x, s)``, a uniform in (0, 1) derived from DuckDB's
``hash`` of ``x * 1000003 + s + seed_mix``. Each random decision uses its own salt (see
:class:`~segwarehouse.generator.params.Salt`), so streams are independent and reproducible
regardless of the number of threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import duckdb
import numpy as np

from segwarehouse.generator import vocab
from segwarehouse.generator.params import Params, Salt
from segwarehouse.sqltext import sql_literal

SALT_STRIDE = 64
NORMAL_SALT_OFFSET = 500_000


def sql_list(values: Iterable[str | int | None]) -> str:
    """Render a Python sequence as a DuckDB list literal."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, str):
            parts.append(sql_literal(value))
        else:
            parts.append(str(int(value)))
    return "[" + ", ".join(parts) + "]"


def salt_value(salt: Salt, k: int = 0) -> int:
    """Integer salt of sub-stream ``k`` (0 <= k < SALT_STRIDE) of the stream ``salt``."""
    if not 0 <= k < SALT_STRIDE:
        raise ValueError(f"sub-stream {k} out of range")
    return int(salt) * SALT_STRIDE + k


def unif(key: str, salt: Salt, k: int = 0) -> str:
    """SQL for a uniform (0, 1) draw keyed by ``key`` in the stream ``salt`` (sub-stream ``k``)."""
    return f"u({key}, {salt_value(salt, k)})"


def normal(key: str, salt: Salt, k: int = 0) -> str:
    """SQL for a standard normal draw (Box-Muller on two independent uniforms)."""
    return f"nz({key}, {salt_value(salt, k)})"


def gamma(key: str, salt: Salt, shape: float) -> str:
    """SQL for a Gamma(shape, 1) draw (uses sub-streams 0 and 1 of ``salt``)."""
    macro = "gam_small" if shape < 1 else "gam"
    return f"{macro}({key}, {salt_value(salt)}, {shape!r})"


def choice(u_expr: str, options: Sequence[tuple[str, float]]) -> str:
    """CASE expression picking ``options[i][0]`` with probability proportional to its weight.

    ``u_expr`` should be a column (it is referenced once per branch).
    """
    total = sum(weight for _, weight in options)
    branches, cumulative = [], 0.0
    for value, weight in options[:-1]:
        cumulative += weight / total
        branches.append(f"WHEN {u_expr} < {cumulative!r} THEN {value}")
    return f"(CASE {' '.join(branches)} ELSE {options[-1][0]} END)"


def pick(list_sql: str, u_expr: str) -> str:
    """Uniformly pick an element of a (non-empty) SQL list using the uniform ``u_expr``."""
    return f"({list_sql})[1 + floor({u_expr} * len({list_sql}))::BIGINT]"


def seasonal_day(key: str, salt: Salt, lo: str, hi: str, tries: int = 6) -> str:
    """A day in ``[lo, hi]`` (epoch days) drawn with the seasonal/weekday weights.

    Rejection sampling against the ``day_w`` weight table with a fixed number of candidates (the
    last candidate is accepted unconditionally), so it stays a single vectorised expression.
    """
    candidates = [
        f"(({lo}) + floor({unif(key, salt, i)} * (({hi}) - ({lo}) + 1))::BIGINT)"
        for i in range(tries)
    ]
    branches = [
        f"WHEN {unif(key, salt, 32 + i)} * 1000 < dayw({cand}) THEN {cand}"
        for i, cand in enumerate(candidates[:-1])
    ]
    return f"(CASE {' '.join(branches)} ELSE {candidates[-1]} END)"


def day_weights(params: Params) -> list[int]:
    """Integer weights (1..1000) per window day: Nov/Dec peaks, weekend lift, mild growth."""
    month_factor = np.array([0.85, 0.78, 0.9, 0.92, 0.95, 0.93, 0.9, 0.92, 0.95, 1.0, 1.45, 1.6])
    weekday_factor = np.array([0.95, 0.93, 0.95, 1.0, 1.08, 1.18, 1.15])  # Monday .. Sunday
    days = [params.start_date + timedelta(days=i) for i in range(params.n_days)]
    weights = np.empty(len(days))
    for i, day in enumerate(days):
        factor = month_factor[day.month - 1] * weekday_factor[day.weekday()]
        if day.month == 11 and 22 <= day.day <= 30:  # Black Friday / Cyber Monday week
            factor *= 1.6
        if day.month == 12 and day.day >= 24:  # after the Christmas shipping cut-off
            factor *= 0.6
        weights[i] = factor * (1.0 + 0.3 * i / max(1, params.n_days - 1))
    return [max(1, int(w)) for w in np.round(1000 * weights / weights.max())]


def _slug(text: str) -> str:
    """URL slug of a category name ('Home & Kitchen' -> 'home-kitchen')."""
    return "-".join(part for part in text.lower().replace("&", " ").split())


def _vocab_variables(params: Params) -> dict[str, str]:
    """DuckDB variables (name -> list literal) holding the vocabularies."""
    countries = vocab.COUNTRIES
    city_offsets, city_counts = [], []
    for iso, *_ in countries:
        idx = [i for i, city in enumerate(vocab.CITIES) if city[0] == iso]
        city_offsets.append(idx[0])
        city_counts.append(len(idx))
    email_domains = [
        list(vocab.PERSONAL_EMAIL_DOMAINS) + list(extra) for extra in vocab.COUNTRY_EMAIL_DOMAINS
    ]
    categories = vocab.CATEGORIES
    variables = {
        "first_f": sql_list(n for n, _ in vocab.FEMALE_FIRST_NAMES),
        "nick_f": sql_list(k for _, k in vocab.FEMALE_FIRST_NAMES),
        "first_m": sql_list(n for n, _ in vocab.MALE_FIRST_NAMES),
        "nick_m": sql_list(k for _, k in vocab.MALE_FIRST_NAMES),
        "last_names": sql_list(vocab.LAST_NAMES),
        "streets": sql_list(vocab.STREET_NAMES),
        "suffix_full": sql_list(full for full, _ in vocab.STREET_SUFFIXES),
        "suffix_abbr": sql_list(abbr for _, abbr in vocab.STREET_SUFFIXES),
        "country_iso": sql_list(c[0] for c in countries),
        "country_spellings": "[" + ", ".join(sql_list(c[2]) for c in countries) + "]",
        "country_cc": sql_list(c[3] for c in countries),
        "country_currency": sql_list(c[4] for c in countries),
        "country_offsets": "[" + ", ".join(sql_list(c[5]) for c in countries) + "]",
        "city_offset": sql_list(city_offsets),
        "city_count": sql_list(city_counts),
        "city_names": sql_list(c[1] for c in vocab.CITIES),
        "city_regions": sql_list(c[2] for c in vocab.CITIES),
        "city_postal": sql_list(c[3] for c in vocab.CITIES),
        "email_domains": "[" + ", ".join(sql_list(d) for d in email_domains) + "]",
        "alt_domains": sql_list(vocab.ALT_EMAIL_DOMAINS),
        "categories": sql_list(c[0] for c in categories),
        "category_slugs": sql_list(_slug(c[0]) for c in categories),
        "category_nouns": "[" + ", ".join(sql_list(c[1]) for c in categories) + "]",
        "category_base": sql_list(c[2] for c in categories),
        "adjectives": sql_list(vocab.ADJECTIVES),
        "brands": sql_list(vocab.brands()),
        "search_terms": sql_list(vocab.SEARCH_TERMS),
        "kiosks": sql_list(vocab.KIOSK_COOKIES),
        "bad_web_types": sql_list(vocab.UNKNOWN_WEB_EVENT_TYPES),
        "bad_campaign_types": sql_list(vocab.UNKNOWN_CAMPAIGN_EVENT_TYPES),
        "bad_channels": sql_list(vocab.UNKNOWN_CONSENT_CHANNELS),
        "bad_currencies": sql_list(vocab.UNKNOWN_CURRENCIES),
        "bad_ts": sql_list(vocab.UNPARSEABLE_TIMESTAMPS),
        "old_ts": sql_list(vocab.IMPLAUSIBLE_OLD_TIMESTAMPS),
        "day_w": sql_list(day_weights(params)),
    }
    return variables


def _macros(params: Params) -> list[str]:
    """Macro definitions (random numbers, formatting, identifier rendering)."""
    cust = params.customer_perm
    cookie = params.cookie_perm
    return [
        # Uniform in (0, 1); x must be an integer expression, s a salt.
        f"""CREATE MACRO u(x, s) AS
            ((hash(CAST(x AS BIGINT) * 1000003 + s + {params.seed_mix}) % 1000000007)::DOUBLE
             + 0.5) / 1000000007.0""",
        f"""CREATE MACRO nz(x, s) AS
            sqrt(-2.0 * ln(u(x, s))) * cos(2.0 * pi() * u(x, s + {NORMAL_SALT_OFFSET}))""",
        # Gamma(k, 1) for k >= 1 (Wilson-Hilferty) and for k < 1 (boost with U^(1/k)).
        """CREATE MACRO gam(x, s, k) AS
            k * pow(greatest(1.0 - 1.0 / (9.0 * k) + nz(x, s) / (3.0 * sqrt(k)), 0.01), 3)""",
        """CREATE MACRO gam_small(x, s, k) AS gam(x, s, k + 1.0) * pow(u(x, s + 1), 1.0 / k)""",
        f"CREATE MACRO dayw(d) AS getvariable('day_w')[(d) - {params.day0} + 1]",
        """CREATE MACRO fmt_cents(c) AS
            (CASE WHEN c < 0 THEN '-' ELSE '' END) || (abs(c) // 100)::VARCHAR || '.'
            || lpad((abs(c) % 100)::VARCHAR, 2, '0')""",
        """CREATE MACRO fmt_ts(sec) AS
            strftime(make_timestamp(CAST(sec AS BIGINT) * 1000000), '%Y-%m-%d %H:%M:%S')""",
        """CREATE MACRO fmt_ts_offset(sec, off) AS
            strftime(make_timestamp((CAST(sec AS BIGINT) + off * 60) * 1000000),
                     '%Y-%m-%dT%H:%M:%S')
            || (CASE WHEN off < 0 THEN '-' ELSE '+' END)
            || lpad((abs(off) // 60)::VARCHAR, 2, '0') || ':'
            || lpad((abs(off) % 60)::VARCHAR, 2, '0')""",
        "CREATE MACRO fmt_day(d) AS strftime(DATE '1970-01-01' + CAST(d AS INTEGER), '%Y-%m-%d')",
        # Name typo keeping the first letter: drop, double or swap a character.
        """CREATE MACRO typo_raw(s, pos, kind) AS CASE kind
            WHEN 0 THEN left(s, pos - 1) || substr(s, pos + 1)
            WHEN 1 THEN left(s, pos) || substr(s, pos)
            ELSE left(s, pos - 1) || substr(s, pos + 1, 1) || substr(s, pos, 1)
                 || substr(s, pos + 2) END""",
        """CREATE MACRO typo(s, r1, r2) AS CASE
            WHEN length(s) < 3 THEN s || substr(s, length(s))
            WHEN typo_raw(s, 2 + floor(r1 * (length(s) - 1))::BIGINT, floor(r2 * 3)::BIGINT) = s
            THEN typo_raw(s, 2 + floor(r1 * (length(s) - 1))::BIGINT, 0)
            ELSE typo_raw(s, 2 + floor(r1 * (length(s) - 1))::BIGINT, floor(r2 * 3)::BIGINT)
            END""",
        # Birth-date typos of a day number (days since 1970-01-01), as typed by people: one
        # digit of the day of month mistyped (the units; the tens when that is no date), and
        # day and month transposed (a day of 13 or more cannot be: then the digit typo). The
        # year is kept, so nobody turns younger than the generator's youngest customer.
        """CREATE MACRO birth_day_digit_typo(d, r) AS coalesce(
            try(make_date(
                year(DATE '1970-01-01' + CAST(d AS INTEGER)),
                month(DATE '1970-01-01' + CAST(d AS INTEGER)),
                day(DATE '1970-01-01' + CAST(d AS INTEGER)) // 10 * 10
                  + (day(DATE '1970-01-01' + CAST(d AS INTEGER)) % 10 + 1
                     + floor(r * 9)::BIGINT) % 10) - DATE '1970-01-01'),
            CASE WHEN day(DATE '1970-01-01' + CAST(d AS INTEGER)) <= 18 THEN d + 10
                 ELSE d - 10 END)""",
        """CREATE MACRO birth_day_transposed(d, r) AS CASE
            WHEN day(DATE '1970-01-01' + CAST(d AS INTEGER)) <= 12
             AND day(DATE '1970-01-01' + CAST(d AS INTEGER))
                 <> month(DATE '1970-01-01' + CAST(d AS INTEGER))
            THEN make_date(year(DATE '1970-01-01' + CAST(d AS INTEGER)),
                           day(DATE '1970-01-01' + CAST(d AS INTEGER)),
                           month(DATE '1970-01-01' + CAST(d AS INTEGER))) - DATE '1970-01-01'
            ELSE birth_day_digit_typo(d, r) END""",
        # Postal-code typo: one digit replaced by another (a code without digits is kept).
        """CREATE MACRO postal_typo(s, r1, r2) AS CASE
            WHEN NOT regexp_matches(s, '[0-9]') THEN s
            ELSE left(s, list_filter(range(1, length(s) + 1),
                                     lambda i: substr(s, i, 1) BETWEEN '0' AND '9')[
                   1 + floor(r1 * length(regexp_replace(s, '[^0-9]', '', 'g')))::BIGINT] - 1)
                 || ((CAST(substr(s, list_filter(range(1, length(s) + 1),
                       lambda i: substr(s, i, 1) BETWEEN '0' AND '9')[
                       1 + floor(r1 * length(regexp_replace(s, '[^0-9]', '', 'g')))::BIGINT], 1)
                       AS INTEGER) + 1 + floor(r2 * 9)::BIGINT) % 10)::VARCHAR
                 || substr(s, list_filter(range(1, length(s) + 1),
                       lambda i: substr(s, i, 1) BETWEEN '0' AND '9')[
                       1 + floor(r1 * length(regexp_replace(s, '[^0-9]', '', 'g')))::BIGINT] + 1)
            END""",
        """CREATE MACRO capdots(s) AS array_to_string(
            list_transform(string_split(s, '.'), lambda x: upper(left(x, 1)) || substr(x, 2)),
            '.')""",
        # Case / whitespace variants of a (lower-case) e-mail address.
        """CREATE MACRO email_variant(e, r) AS CASE floor(r * 4)::BIGINT
            WHEN 0 THEN upper(e)
            WHEN 1 THEN ' ' || e || ' '
            WHEN 2 THEN ' ' || capdots(split_part(e, '@', 1)) || '@'
                        || upper(split_part(e, '@', 2)) || ' '
            ELSE capdots(e) || '  ' END""",
        """CREATE MACRO malformed_email(first_l, last_l, e, r) AS CASE floor(r * 4)::BIGINT
            WHEN 0 THEN split_part(e, '@', 1) || '@'
            WHEN 1 THEN replace(e, '@', '.')
            WHEN 2 THEN first_l || ' ' || last_l || '@' || split_part(e, '@', 2)
            ELSE replace(e, '@', '@@') END""",
        # Phone renderings of one national number: E.164 and four dirty national formats.
        """CREATE MACRO phone_fmt(cc, nat, f) AS CASE f
            WHEN 0 THEN '+' || cc || nat
            WHEN 1 THEN '+' || cc || ' (' || substr(nat, 1, 3) || ') ' || substr(nat, 4, 3)
                        || '-' || substr(nat, 7, 4)
            WHEN 2 THEN substr(nat, 1, 3) || '.' || substr(nat, 4, 3) || '.' || substr(nat, 7, 4)
            WHEN 3 THEN nat
            ELSE '00' || cc || ' ' || substr(nat, 1, 3) || ' ' || substr(nat, 4, 3) || ' '
                 || substr(nat, 7, 4) END""",
        f"""CREATE MACRO cust_id(ck) AS
            'C' || lpad({cust.sql("ck")}::VARCHAR, {params.customer_digits}, '0')""",
        f"""CREATE MACRO cookie_id(key) AS CASE WHEN key < 0
            THEN getvariable('kiosks')[-key]
            ELSE 'anon-' || lpad(lower(hex({cookie.sql("key")})), 10, '0') END""",
        """CREATE MACRO product_code(i) AS 'P' || lpad(CAST(i AS VARCHAR), 5, '0')""",
        "CREATE MACRO clean_token(s) AS regexp_replace(lower(s), '[^a-z]', '', 'g')",
    ]


def install(con: duckdb.DuckDBPyConnection, params: Params) -> None:
    """Create the vocabulary variables and the helper macros on ``con``."""
    for name, literal in _vocab_variables(params).items():
        con.execute(f"SET VARIABLE {name} = {literal}")
    for statement in _macros(params):
        con.execute(statement)
