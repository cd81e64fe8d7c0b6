-- A table, not a view: it parses every raw row once, and both the staged view and the
-- quarantine read it (a view would re-parse the landing file for each reader).
{{ config(materialized='table') }}

-- Every raw campaign event with its disposition. Campaign events have no id of their own:
-- exact duplicates collapse, distinct events are all kept.

with

source as (

    select * from {{ source('marketing', 'campaign_events') }}

),

parsed as (

    select
        {{ clean_text('source.campaign_id') }} as campaign_id,
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        lower({{ clean_text('source.channel') }}) as channel,
        lower({{ clean_text('source.event_type') }}) as event_type,
        lower({{ clean_text('source.variant') }}) as variant,
        {{ clean_text('source.revenue') }} as revenue_text,
        {{ parse_amount('source.revenue') }} as revenue,
        {{ clean_text('source.event_ts') }} as event_ts_text,
        {{ parse_timestamp_utc('source.event_ts') }} as event_ts,
        source._landing_file,
        -- `source` here is the whole raw row (for the quarantine), not a column.
        source as raw_row,  -- noqa: RF02
        {{ row_fingerprint(['source.campaign_id', 'source.customer_id', 'source.email',
            'source.channel', 'source.event_type', 'source.variant', 'source.event_ts',
            'source.revenue']) }} as row_fingerprint
    from source

),

checked as (

    select
        *,
        {{ first_failing_check([
            ['campaign_id is null', 'missing_campaign_id'],
            ['event_ts_text is null', 'missing_event_ts'],
            ['event_ts is null', 'unparseable_event_ts'],
            ['event_ts > ' ~ future_cutoff_sql(), 'future_timestamp'],
            ['event_ts < ' ~ earliest_plausible_sql(), 'implausibly_old_timestamp'],
            ["event_type is null or event_type not in ('" ~ var('segments__campaign_event_types') | join("', '") ~ "')", 'unknown_event_type'],
            ["variant is not null and variant not in ('" ~ var('segments__campaign_variants') | join("', '") ~ "')", 'unknown_variant'],
            ['revenue_text is not null and revenue is null', 'unparseable_revenue'],
            ['revenue < 0', 'negative_revenue'],
            ['customer_id is null and email is null', 'no_recipient_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_rows('checked', visible_at='event_ts') }}

),

final as (

    select
        campaign_id,
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        channel,
        event_type,
        coalesce(variant, 'treatment') as variant,
        revenue,
        event_ts,
        row_status,
        quarantine_reason,
        row_fingerprint,
        _landing_file as landing_file,
        case when row_status = 'quarantined' then to_json(raw_row) end as raw_record
    from classified

)

select * from final
