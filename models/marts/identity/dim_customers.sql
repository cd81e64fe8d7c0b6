-- One row per resolved customer (a person with a CRM record or an order), without raw PII:
-- emails and phones only as keyed pseudonyms (HMAC-SHA-256 of the normalised value under the
-- secret key, macros/cross_db/pseudonym_hmac.sql: not reversible by enumeration),
-- birth year instead of birth date, no names or street addresses. Erased customers are absent.

with

golden_records as (

    select * from {{ ref('int_customer_golden_records') }}

),

consents as (

    select * from {{ ref('int_customer_consents') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

consent_flags as (

    select
        customer_key,
        {%- for channel in var('segments__consent_channels') %}
            bool_or(is_granted) filter (where channel = '{{ channel }}') as consent_{{ channel }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from consents
    group by customer_key

),

final as (

    select
        golden_records.customer_key,
        golden_records.country_code,
        golden_records.region,
        golden_records.city,
        golden_records.gender,
        {{ pseudonym_hmac('golden_records.email') }} as email_hmac,
        {{ pseudonym_hmac('golden_records.phone') }} as phone_hmac,
        cast(extract(year from golden_records.birth_date) as integer) as birth_year,
        golden_records.crm_record_count,
        golden_records.identifier_count,
        golden_records.email is not null as has_email,
        golden_records.phone is not null as has_phone,
        golden_records.crm_record_count > 0 as is_crm_customer,
        golden_records.has_probabilistic_match,
        {%- for channel in var('segments__consent_channels') %}
            coalesce(
                consent_flags.consent_{{ channel }}, {{ var('segments__consent_default_granted') }}
            ) as has_{{ channel }}_consent,
        {%- endfor %}
        golden_records.first_seen_at,
        golden_records.last_seen_at,
        {{ as_of_date_sql() }} as as_of_date
    from golden_records
    left join consent_flags
        on golden_records.customer_key = consent_flags.customer_key
    where golden_records.customer_key not in (
        select erased_customer_keys.customer_key from erased_customer_keys
    )

)

select * from final
