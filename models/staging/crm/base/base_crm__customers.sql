-- A table, not a view: it parses every raw row once, and both the staged view and the
-- quarantine read it (a view would re-parse the landing file for each reader).
{{ config(materialized='table') }}

-- Every raw CRM row, typed and normalised, with its disposition (row_status) and, when it
-- cannot be used, a reason code. stg_crm__customers publishes the staged rows.

with

source as (

    select * from {{ source('crm', 'crm_customers') }}

),

country_aliases as (

    select * from {{ ref('country_aliases') }}

),

countries as (

    select * from {{ ref('countries') }}

),

parsed as (

    select
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        {{ clean_text('source.phone') }} as phone_original,
        {{ clean_text('source.first_name') }} as first_name,
        {{ clean_text('source.last_name') }} as last_name,
        {{ clean_text('source.street_address') }} as street_address,
        {{ clean_text('source.city') }} as city,
        {{ clean_text('source.region') }} as region,
        upper({{ clean_text('source.postal_code') }}) as postal_code,
        countries.country_code,
        countries.calling_code,
        {{ clean_text('source.country') }} as country_original,
        {{ clean_text('source.loyalty_id') }} as loyalty_id,
        lower({{ clean_text('source.source_system') }}) as source_system,
        case upper(left({{ clean_text('source.gender') }}, 1))
            when 'F' then 'F'
            when 'W' then 'F'
            when 'M' then 'M'
            when 'X' then 'X'
        end as gender,
        {{ parse_date('source.birth_date') }} as birth_date,
        {{ parse_timestamp_utc('source.created_at') }} as created_at,
        {{ parse_timestamp_utc('source.updated_at') }} as updated_at_parsed,
        {{ clean_text('source.birth_date') }} is not null
        and {{ parse_date('source.birth_date') }} is null as has_unparseable_birth_date,
        {{ clean_text('source.created_at') }} is not null
        and {{ parse_timestamp_utc('source.created_at') }} is null as has_unparseable_created_at,
        {{ clean_text('source.updated_at') }} is not null
        and {{ parse_timestamp_utc('source.updated_at') }} is null as has_unparseable_updated_at,
        {{ staging_raw_row_columns(['source.customer_id', 'source.email', 'source.phone',
            'source.first_name', 'source.last_name', 'source.birth_date', 'source.gender',
            'source.street_address', 'source.city', 'source.region', 'source.postal_code',
            'source.country', 'source.loyalty_id', 'source.source_system',
            'source.created_at', 'source.updated_at'], shared_flag=false) }}
    from source
    left join country_aliases
        on upper(trim(source.country)) = country_aliases.alias
    left join countries
        on country_aliases.country_code = countries.country_code

),

checked as (

    select
        *,
        -- A version's point in time: when it was written, else when the record was created.
        coalesce(updated_at_parsed, created_at) as version_at,
        {{ first_failing_check([
            ['customer_id is null', 'missing_customer_id'],
            ['has_unparseable_created_at', 'unparseable_created_at'],
            ['has_unparseable_updated_at', 'unparseable_updated_at'],
        ] + timestamp_checks('coalesce(updated_at_parsed, created_at)', parse_checks=false)) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_rows(
        'checked',
        key_columns=['customer_id'],
        version_order='version_at desc nulls last, row_fingerprint',
        key_mode='history',
        visible_at='version_at',
    ) }}

),

final as (

    select
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        {{ normalize_phone('phone_original', 'calling_code') }} as phone,
        phone_original,
        first_name,
        last_name,
        gender,
        street_address,
        city,
        region,
        postal_code,
        country_code,
        country_original,
        loyalty_id,
        source_system,
        has_unparseable_birth_date,
        birth_date,
        created_at,
        version_at as updated_at,
        {{ staging_disposition_columns() }}
    from classified

)

select * from final
