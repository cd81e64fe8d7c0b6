"""Persons (the hidden truth) and the fragmented CRM records derived from them."""

from __future__ import annotations

from segwarehouse.generator import dirt
from segwarehouse.generator.params import SECONDS_PER_DAY, Params, Salt
from segwarehouse.generator.sqlkit import choice, gamma, normal, pick, unif

CRM_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "street_address",
    "city",
    "region",
    "postal_code",
    "country",
    "loyalty_id",
    "source_system",
    "created_at",
    "updated_at",
)
SOURCE_SYSTEMS = "['webshop', 'pos', 'loyalty_app']"

# BG/NBD-like purchase process: rate ~ Gamma(shape, scale) per year, dropout ~ Beta(a, b).
RATE_SHAPE, RATE_SCALE = 0.55, 14.0
DROPOUT_A, DROPOUT_B = 0.7, 8.0
PROSPECT_SHARE = 0.2
MAX_ORDERS = 300


def _person_draws(params: Params) -> str:
    """Per-person uniforms/normals (one column per decision)."""
    d = {
        "r_country": unif("p", Salt.COUNTRY),
        "r_gender": unif("p", Salt.GENDER),
        "r_first": unif("p", Salt.FIRST_NAME),
        "r_first_list": unif("p", Salt.FIRST_NAME, 1),
        "r_last": unif("p", Salt.LAST_NAME),
        "r_pattern": unif("p", Salt.EMAIL_PATTERN),
        "r_domain": unif("p", Salt.EMAIL_DOMAIN),
        "r_domain2": unif("p", Salt.EMAIL_DOMAIN, 1),
        "r_birth": unif("p", Salt.BIRTH),
        "r_act": unif("p", Salt.ACTIVITY),
        "r_signup": unif("p", Salt.SIGNUP_TIME),
        "r_buyer": unif("p", Salt.BUYER),
        "r_delay": unif("p", Salt.FIRST_ORDER_DELAY),
        "lam": f"{gamma('p', Salt.RATE, RATE_SHAPE)} * {RATE_SCALE}",
        "g_a": gamma("p", Salt.DROPOUT_A, DROPOUT_A),
        "g_b": gamma("p", Salt.DROPOUT_B, DROPOUT_B),
        "z_pois": normal("p", Salt.POISSON),
        "r_drop": unif("p", Salt.DROPOUT_DRAW),
        "price_tier": unif("p", Salt.PRICE_TIER),
        "basket_mu": f"ln(2.2) + 0.35 * {normal('p', Salt.BASKET)}",
        "r_loyalty": unif("p", Salt.LOYALTY),
        "r_ids": unif("p", Salt.N_IDS),
        "r_hard": unif("p", Salt.HARD_DUP),
        "r_cookies": unif("p", Salt.COOKIES),
        "r_system": unif("p", Salt.MAIN_SYSTEM),
        "r_street0": unif("p * 4", Salt.STREET, 0),
        "r_street1": unif("p * 4", Salt.STREET, 1),
        "r_street2": unif("p * 4", Salt.STREET, 2),
        "r_city": unif("p", Salt.CITY),
        "r_postal": unif("p", Salt.POSTAL),
        "r_browse": unif("p", Salt.BROWSE_COUNT),
    }
    cols = ",\n  ".join(f"{expr} AS {name}" for name, expr in d.items())
    return f"SELECT p,\n  {cols}\nFROM range({params.customers}) t(p)"


def _postal_code() -> str:
    """Country-specific postal code from the city prefix and the person's postal uniform."""
    v = "floor(r_postal * 100000000)::BIGINT"
    letter = "chr(65 + (({v} // {div}) % 26)::INTEGER)"

    def let(div: int) -> str:
        """Letter A-Z taken from the postal uniform."""
        return letter.format(v=v, div=div)

    def dig(div: int) -> str:
        """Digit 0-9 taken from the postal uniform."""
        return f"(({v} // {div}) % 10)::VARCHAR"

    return f"""(CASE country_idx
        WHEN 0 THEN city_prefix || lpad(({v} % 100)::VARCHAR, 2, '0')
        WHEN 1 THEN city_prefix || {dig(1)} || ' ' || {dig(10)} || {let(100)} || {let(2600)}
        WHEN 2 THEN city_prefix || lpad(({v} % 1000)::VARCHAR, 3, '0')
        WHEN 3 THEN city_prefix || lpad(({v} % 1000)::VARCHAR, 3, '0')
        WHEN 4 THEN city_prefix || lpad(({v} % 100)::VARCHAR, 2, '0') || ' ' || {let(100)}
                    || {let(2600)}
        WHEN 5 THEN city_prefix || {dig(1)} || {let(10)} || ' ' || {dig(260)} || {let(2600)}
                    || {dig(67600)}
        ELSE city_prefix || lpad(({v} % 100)::VARCHAR, 2, '0') END)"""


def persons_sql(params: Params) -> str:
    """CREATE TABLE persons: identity, demographics, purchase behaviour parameters."""
    countries = [(str(i), w) for i, w in enumerate([0.60, 0.12, 0.08, 0.06, 0.04, 0.05, 0.05])]
    ep = params.email_perm
    phone = params.phone_perm
    loyalty = params.loyalty_perm
    loyalty_digits = len(str(loyalty.mod)) - 1
    return f"""
CREATE TABLE persons AS
WITH draws AS ({_person_draws(params)}),
basic AS (
  SELECT *,
    {choice("r_country", countries)}::INTEGER AS country_idx,
    {choice("r_gender", [("'F'", 0.49), ("'M'", 0.49), ("'X'", 0.02)])} AS gender
  FROM draws
),
named AS (
  SELECT *,
    (gender = 'F' OR (gender = 'X' AND r_first_list < 0.5)) AS female_name,
    1 + floor(pow(r_first, 1.4) * len(getvariable('first_f')))::BIGINT AS fi_f,
    1 + floor(pow(r_first, 1.4) * len(getvariable('first_m')))::BIGINT AS fi_m,
    getvariable('last_names')[1 + floor(pow(r_last, 1.3)
        * len(getvariable('last_names')))::BIGINT] AS last_name,
    getvariable('city_offset')[country_idx + 1]
      + floor(r_city * getvariable('city_count')[country_idx + 1])::BIGINT + 1 AS city_pos
  FROM basic
),
ident AS (
  SELECT *,
    CASE WHEN female_name THEN getvariable('first_f')[fi_f]
         ELSE getvariable('first_m')[fi_m] END AS first_name,
    CASE WHEN female_name THEN getvariable('nick_f')[fi_f]
         ELSE getvariable('nick_m')[fi_m] END AS nickname,
    getvariable('city_names')[city_pos] AS city,
    getvariable('city_regions')[city_pos] AS region,
    getvariable('city_postal')[city_pos] AS city_prefix,
    {ep.sql("p")}::VARCHAR AS email_num,
    (2000000000 + {phone.sql("p * 2")})::VARCHAR AS phone_nat,
    (2000000000 + {phone.sql("p * 2 + 1")})::VARCHAR AS phone_nat2,
    getvariable('country_cc')[country_idx + 1] AS phone_cc,
    'LOY' || lpad({loyalty.sql("p")}::VARCHAR, {loyalty_digits}, '0') AS loyalty_code,
    CASE WHEN r_domain < 0.7
      THEN getvariable('email_domains')[country_idx + 1][1 + floor(r_domain2 * 5)::BIGINT]
      ELSE getvariable('email_domains')[country_idx + 1][6 + floor(r_domain2 * 2)::BIGINT]
    END AS email_domain
  FROM named
),
contact AS (
  SELECT *,
    clean_token(first_name) AS first_l,
    clean_token(last_name) AS last_l
  FROM ident
),
behaviour AS (
  SELECT *,
    (CASE floor(r_pattern * 5)::BIGINT
      WHEN 0 THEN first_l || '.' || last_l
      WHEN 1 THEN left(first_l, 1) || last_l
      WHEN 2 THEN first_l
      WHEN 3 THEN first_l || '_' || last_l
      ELSE last_l || '.' || first_l END) || email_num || '@' || email_domain AS email,
    {_postal_code()} AS postal_code,
    1 + floor(r_street0 * 998)::BIGINT AS street_no,
    1 + floor(r_street1 * len(getvariable('streets')))::BIGINT AS street_idx,
    1 + floor(r_street2 * len(getvariable('suffix_full')))::BIGINT AS suffix_idx,
    {params.day_end} - {18 * 365} - floor(r_birth * {67 * 365})::BIGINT AS birth_day,
    {params.day0} + floor({params.n_days} * pow(r_act, 0.8))::BIGINT AS act_day,
    r_buyer >= {PROSPECT_SHARE} AS is_buyer,
    least(greatest(g_a / (g_a + g_b), 0.0005), 0.95) AS p_drop,
    r_loyalty < 0.4 AS has_loyalty,
    {choice("r_ids", [("1", 0.70), ("2", 0.25), ("3", 0.05)])} AS n_ids,
    r_hard < 0.02 AS hard,
    {choice("r_cookies", [("1", 0.55), ("2", 0.30), ("3", 0.15)])} AS n_cookies,
    {choice("r_system", [("0", 0.6), ("1", 0.25), ("2", 0.15)])} AS main_system
  FROM contact
),
timing AS (
  SELECT *,
    act_day * {SECONDS_PER_DAY} + 28800 + floor(r_signup * 50400)::BIGINT AS created_sec,
    least({params.day_end}, act_day + floor(-ln(r_delay) * 20)::BIGINT) AS first_order_day
  FROM behaviour
),
process AS (
  SELECT *,
    lam * ({params.day_end} - first_order_day + 1) / 365.0 AS expected_repeats,
    floor(ln(r_drop) / ln(1.0 - p_drop)) AS max_repeats
  FROM timing
),
counts AS (
  SELECT *,
    greatest(0, floor(expected_repeats + sqrt(expected_repeats) * z_pois + 0.5)) AS repeats
  FROM process
),
final AS (
  SELECT *,
    CASE WHEN is_buyer THEN 1 + least(repeats, max_repeats, {MAX_ORDERS - 1})::BIGINT
         ELSE 0 END AS n_orders,
    first_order_day + floor(({params.day_end} - first_order_day)
      * least(1.0, (max_repeats + 0.5) / (repeats + 0.5)))::BIGINT AS active_end_day
  FROM counts
)
SELECT p, country_idx, gender, first_name, last_name, nickname, first_l, last_l, email,
  phone_cc, phone_nat, phone_nat2, has_loyalty, loyalty_code, birth_day, act_day, created_sec,
  street_no, street_idx, suffix_idx, city, region, postal_code, n_ids, hard, n_cookies,
  main_system, is_buyer, n_orders, first_order_day, active_end_day, price_tier, basket_mu,
  1 + least(254, floor(-ln(r_browse) * (1.5 + 0.7 * n_orders)))::BIGINT AS n_browse,
  sum(n_orders) OVER (ORDER BY p ROWS UNBOUNDED PRECEDING)::BIGINT - n_orders AS order_offset
FROM final
ORDER BY p
"""


def _record_draws() -> str:
    """Per customer-record uniforms, keyed by the customer key ``ck``."""
    d = {
        "r_name0": unif("ck", Salt.REC_NAME, 0),
        "r_name1": unif("ck", Salt.REC_NAME, 1),
        "r_name2": unif("ck", Salt.REC_NAME, 2),
        "r_name3": unif("ck", Salt.REC_NAME, 3),
        "r_email0": unif("ck", Salt.REC_EMAIL, 0),
        "r_email1": unif("ck", Salt.REC_EMAIL, 1),
        "r_email2": unif("ck", Salt.REC_EMAIL, 2),
        "r_phone0": unif("ck", Salt.REC_PHONE, 0),
        "r_phone1": unif("ck", Salt.REC_PHONE, 1),
        "main_phone_null": f"{unif('p * 4', Salt.REC_PHONE, 0)} < 0.25",
        "main_phone_fmt": f"floor({unif('p * 4', Salt.REC_PHONE, 1)} * 5)::BIGINT",
        "main_abbr": f"{unif('p * 4', Salt.REC_ADDRESS, 0)} < 0.2",
        "r_loy": unif("ck", Salt.REC_LOYALTY),
        "r_birth0": unif("ck", Salt.REC_BIRTH, 0),
        "r_birth1": unif("ck", Salt.REC_BIRTH, 1),
        "r_birth2": unif("ck", Salt.REC_BIRTH, 2),
        "r_birth3": unif("ck", Salt.REC_BIRTH, 3),
        "r_post0": unif("ck", Salt.REC_ADDRESS, 1),
        "r_post1": unif("ck", Salt.REC_ADDRESS, 2),
        "r_post2": unif("ck", Salt.REC_ADDRESS, 3),
        "r_name4": unif("ck", Salt.REC_NAME, 4),
        "r_gender": unif("ck", Salt.REC_GENDER),
        "r_addr0": unif("ck", Salt.REC_ADDRESS, 0),
        "r_country": unif("ck", Salt.REC_COUNTRY, 0),
        "r_country1": unif("ck", Salt.REC_COUNTRY, 1),
        "r_created": unif("ck", Salt.REC_CREATED),
        "r_ver0": unif("ck", Salt.REC_VERSIONS, 0),
        "r_ver1": unif("ck", Salt.REC_VERSIONS, 1),
        "r_sys": unif("ck", Salt.REC_SYSTEM),
        "move1": f"{unif('ck * 4 + 1', Salt.VERSION_CHANGE)} < 0.65",
        "move2": f"{unif('ck * 4 + 2', Salt.VERSION_CHANGE)} < 0.65",
    }
    return ",\n    ".join(f"{expr} AS {name}" for name, expr in d.items())


def _record_sql() -> str:
    """SELECT producing one row per customer record (before versioning)."""
    soft = "slot IN (1, 2)"
    return f"""
  SELECT *,
    CASE WHEN slot = 0 THEN main_system
         WHEN slot = 3 THEN (main_system + 1 + floor(r_sys * 3)::BIGINT) % 3
         ELSE (main_system + slot) % 3 END AS system_idx,
    ({soft} AND NOT main_phone_null AND r_phone0 < 0.55) AS share_phone,
    ({soft} AND has_loyalty AND ((main_system + slot) % 3 = 2 OR r_loy < 0.5)) AS share_loyalty
  FROM (
    SELECT *,
    {_record_draws()}
    FROM (
      SELECT pr.*, s.slot, pr.p * 4 + s.slot AS ck
      FROM persons pr CROSS JOIN (SELECT unnest([0, 1, 2, 3]) AS slot) s
      WHERE s.slot = 0 OR s.slot < pr.n_ids OR (s.slot = 3 AND pr.hard)
    )
  )"""


def _record_attributes(params: Params) -> str:
    """Record-level attribute columns: names, e-mail, phone, loyalty id, dates, address."""
    alt = params.alt_email_perm
    alt_domain = pick("getvariable('alt_domains')", "r_email2")
    nick_or_typo = "coalesce(nickname, typo(first_name, r_name1, r_name2))"
    return f"""
  SELECT *,
    clean_token(rec_first) || '.' || clean_token(rec_last) || '.' || {alt.sql("ck")}::VARCHAR
      || '@' || {alt_domain} AS alt_email
  FROM (
    SELECT *,
      CASE WHEN slot = 0 THEN first_name
           WHEN slot = 3 AND r_name0 < 0.40 THEN {nick_or_typo}
           WHEN slot = 3 AND r_name0 < 0.65 AND r_name3 < 0.5
             THEN typo(first_name, r_name1, r_name2)
           WHEN slot = 3 AND r_name0 < 0.85 THEN last_name
           WHEN slot <> 3 AND r_name0 < 0.12 THEN typo(first_name, r_name1, r_name2)
           ELSE first_name END AS rec_first,
      CASE WHEN slot = 0 THEN last_name
           WHEN slot = 3 AND r_name0 < 0.40 THEN last_name
           WHEN slot = 3 AND r_name0 < 0.65 AND r_name3 < 0.5 THEN last_name
           WHEN slot = 3 AND r_name0 < 0.85 THEN first_name
           WHEN slot = 3 THEN typo(last_name, r_name1, r_name2)
           WHEN r_name0 >= 0.12 AND r_name0 < 0.24 THEN typo(last_name, r_name1, r_name2)
           ELSE last_name END AS rec_last,
      slot IN (1, 2) AND (r_email0 < 0.6 OR NOT (share_phone OR share_loyalty)) AS share_email,
      CASE WHEN slot = 3 THEN (CASE WHEN r_birth0 < 0.15 THEN NULL
                                    WHEN r_birth0 < 0.45 AND r_birth3 < 0.5 AND r_birth1 < 0.5
                                      THEN birth_day + 1 + floor(r_birth2 * 30)::BIGINT
                                    WHEN r_birth0 < 0.45 AND r_birth3 < 0.5
                                      THEN birth_day - 1 - floor(r_birth2 * 30)::BIGINT
                                    WHEN r_birth0 < 0.45 AND r_birth3 < 0.75
                                      THEN birth_day_digit_typo(birth_day, r_birth2)
                                    WHEN r_birth0 < 0.45
                                      THEN birth_day_transposed(birth_day, r_birth2)
                                    ELSE birth_day END)
           WHEN r_birth0 < 0.25 THEN NULL ELSE birth_day END AS rec_birth,
      CASE WHEN slot = 3 AND r_post0 < 0.15 THEN postal_typo(postal_code, r_post1, r_post2)
           ELSE postal_code END AS rec_postal,
      CASE WHEN r_gender < 0.2 THEN NULL ELSE gender END AS rec_gender,
      CASE WHEN slot = 0 THEN main_abbr
           WHEN slot = 3 THEN NOT main_abbr
           ELSE r_addr0 < 0.35 END AS abbr,
      CASE WHEN r_country < 0.5 THEN getvariable('country_iso')[country_idx + 1]
           ELSE {pick("getvariable('country_spellings')[country_idx + 1]", "r_country1")}
      END AS country_text,
      CASE WHEN slot = 0 THEN created_sec
           ELSE created_sec + floor(r_created * 0.9 * ({params.end_sec} - 1 - created_sec))::BIGINT
      END AS rec_created,
      CASE WHEN slot = 3 OR r_ver0 >= 0.10 THEN 1 WHEN r_ver1 < 0.7 THEN 2 ELSE 3 END AS n_versions
    FROM records
  )"""


def _record_contacts() -> str:
    """E-mail, phone and loyalty columns of a record (identifier sharing rules)."""
    return """
  SELECT *,
    CASE WHEN slot = 0 THEN email
         WHEN share_email AND r_email1 < 0.75 THEN email_variant(email, r_email2)
         WHEN share_email THEN email
         WHEN slot = 3 OR r_email1 < 0.5 THEN alt_email
         ELSE NULL END AS rec_email,
    CASE WHEN slot = 0 THEN (CASE WHEN main_phone_null THEN NULL ELSE main_phone_fmt END)
         WHEN share_phone THEN (main_phone_fmt + 1 + floor(r_phone1 * 4)::BIGINT) % 5
         ELSE NULL END AS phone_fmt_idx,
    CASE WHEN (slot = 0 AND has_loyalty) OR share_loyalty THEN loyalty_code END AS rec_loyalty
  FROM attrs"""


def crm_sql(params: Params) -> str:
    """CREATE TABLE crm: one row per CRM record version, with its (single) defect."""
    defect = dirt.defect_case("r_dirt", dirt.CRM_DEFECTS)
    null_rate = dirt.CRM_NULL_ID_RATE_AMONG_SUPERSEDED
    junk_email = "'test@example.com'"
    return f"""
CREATE TABLE crm AS
WITH records AS ({_record_sql()}),
attrs AS ({_record_attributes(params)}),
contacts AS ({_record_contacts()}),
versions AS (
  SELECT *, ck * 4 + v AS rk,
    CASE WHEN v >= 2 AND move2 THEN 2 WHEN v >= 1 AND move1 THEN 1 ELSE 0 END AS addr_version,
    (v >= 1 AND NOT move1) OR (v >= 2 AND NOT move2) AS phone_changed
  FROM (SELECT *, unnest(range(n_versions)) AS v FROM contacts)
),
vdraws AS (
  SELECT *,
    {unif("rk", Salt.VERSION_TIME)} AS r_vtime,
    {unif("rk", Salt.VERSION_TIME, 1)} AS r_vsame,
    {unif("ck * 4 + addr_version", Salt.STREET, 0)} AS r_st0,
    {unif("ck * 4 + addr_version", Salt.STREET, 1)} AS r_st1,
    {unif("ck * 4 + addr_version", Salt.STREET, 2)} AS r_st2,
    {unif("rk", Salt.CRM_DIRT)} AS r_dirt,
    {unif("rk", Salt.CRM_DIRT, 1)} AS r_dirt_null,
    {unif("rk", Salt.CRM_DIRT_KIND)} AS r_dirt_kind
  FROM versions
),
shaped AS (
  SELECT *,
    CASE WHEN v < n_versions - 1 AND r_dirt_null < {null_rate} THEN '{dirt.CRM_NULL_ID_DEFECT}'
         WHEN {defect} = 'malformed_email' AND rec_email IS NULL THEN NULL
         ELSE {defect} END AS defect,
    CASE WHEN addr_version = 0 THEN street_no ELSE 1 + floor(r_st0 * 998)::BIGINT END AS st_no,
    CASE WHEN addr_version = 0 THEN street_idx
         ELSE 1 + floor(r_st1 * len(getvariable('streets')))::BIGINT END AS st_idx,
    CASE WHEN addr_version = 0 THEN suffix_idx
         ELSE 1 + floor(r_st2 * len(getvariable('suffix_full')))::BIGINT END AS sf_idx,
    CASE WHEN phone_changed THEN phone_fmt(phone_cc, phone_nat2, coalesce(phone_fmt_idx, 0))
         WHEN phone_fmt_idx IS NULL THEN NULL
         ELSE phone_fmt(phone_cc, phone_nat, phone_fmt_idx) END AS rec_phone,
    CASE WHEN n_versions = 1 AND r_vsame < 0.4 THEN rec_created
         ELSE rec_created + floor(({params.end_sec} - 1 - rec_created) * (v + r_vtime)
                                  / n_versions)::BIGINT END AS updated_sec
  FROM vdraws
)
SELECT p, ck, v, slot, defect, {params.customer_perm.sql("ck")} AS sort_key,
  CASE WHEN defect = '{dirt.CRM_NULL_ID_DEFECT}' THEN NULL ELSE cust_id(ck) END AS customer_id,
  CASE WHEN defect = 'junk_email' THEN {junk_email}
       WHEN defect = 'malformed_email'
         THEN malformed_email(clean_token(rec_first), clean_token(rec_last), lower(trim(rec_email)),
                              r_dirt_kind)
       ELSE rec_email END AS email,
  CASE WHEN defect = 'junk_phone' THEN '0000000000' ELSE rec_phone END AS phone,
  CASE WHEN slot = 3 AND r_name4 < 0.06 THEN NULL ELSE rec_first END AS first_name,
  CASE WHEN slot = 3 AND r_name4 >= 0.06 AND r_name4 < 0.09 THEN NULL ELSE rec_last END
    AS last_name,
  fmt_day(rec_birth) AS birth_date,
  rec_gender AS gender,
  st_no::VARCHAR || ' ' || getvariable('streets')[st_idx] || ' '
    || CASE WHEN abbr THEN getvariable('suffix_abbr')[sf_idx]
            ELSE getvariable('suffix_full')[sf_idx] END AS street_address,
  city, region, rec_postal AS postal_code,
  country_text AS country,
  rec_loyalty AS loyalty_id,
  ({SOURCE_SYSTEMS})[system_idx + 1] AS source_system,
  fmt_ts(rec_created) AS created_at,
  fmt_ts(updated_sec) AS updated_at
FROM shaped
"""


def crm_output_sql() -> str:
    """SELECT over the crm table with output columns, ``rd`` (row defect) and sort keys."""
    cols = ", ".join(CRM_COLUMNS)
    return f"SELECT {cols}, defect AS rd, sort_key, v FROM crm"


CRM_ORDER_BY = "sort_key, v"
