-- A table, not a view: it parses every raw row once, and both the staged view and the
-- quarantine read it (a view would re-parse the landing file for each reader).
{{ config(materialized='table') }}

-- Every raw consent change with its disposition. Consent rows are a history: all distinct
-- changes are kept; the identity layer decides each person's current consent per channel.

with

source as (

    select * from {{ source('privacy', 'consents') }}

),

parsed as (

    select
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        lower({{ clean_text('source.channel') }}) as channel,
        lower({{ clean_text('source.status') }}) as status,
        {{ clean_text('source.recorded_at') }} as recorded_at_text,
        {{ parse_timestamp_utc('source.recorded_at') }} as recorded_at,
        {{ staging_raw_row_columns(['source.customer_id', 'source.email', 'source.channel',
            'source.status', 'source.recorded_at'], shared_flag=false) }}
    from source

),

checked as (

    select
        *,
        {{ first_failing_check([
            ['customer_id is null and email is null', 'no_subject_identifier'],
        ] + timestamp_checks('recorded_at') + [
            ["channel is null or channel not in ('" ~ var('segments__consent_channels') | join("', '") ~ "')", 'unknown_channel'],
            ["status is null or status not in ('" ~ var('segments__consent_statuses') | join("', '") ~ "')", 'unknown_status'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_rows('checked', visible_at='recorded_at') }}

),

final as (

    select
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        channel,
        status,
        status = 'granted' as is_granted,
        recorded_at,
        {{ staging_disposition_columns() }}
    from classified

)

select * from final
