-- A table, not a view: it parses every raw row once, and both the staged view and the
-- quarantine read it (a view would re-parse the landing file for each reader).
{{ config(materialized='table') }}

-- Every raw erasure request with its disposition. Requests are honoured whatever as_of_date
-- says (a backfill must never resurrect an erased person), so none is "not yet visible", and
-- a request with an unreadable date is still honoured: only a request naming nobody is
-- quarantined.

with

source as (

    select * from {{ source('privacy', 'erasure_requests') }}

),

parsed as (

    select
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        {{ parse_timestamp_utc('source.requested_at') }} as requested_at,
        {{ staging_raw_row_columns(['source.customer_id', 'source.email',
            'source.requested_at'], shared_flag=false) }}
    from source

),

checked as (

    select
        *,
        {{ first_failing_check([
            ['customer_id is null and email is null', 'no_subject_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_rows('checked') }}

),

final as (

    select
        customer_id,
        email,
        requested_at,
        {{ staging_disposition_columns() }}
    from classified

)

select * from final
