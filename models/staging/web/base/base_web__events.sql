-- Incremental on DuckDB (docs/incremental.md; on Spark the table is overwritten whole,
-- docs/scale_out.md): a run reads only new landing files and the files holding
-- the loaded rows of the groups they touch, re-classifies those groups exactly as a full
-- build would, and replaces them (delete+insert on the group key `event_id`).
{{ config(**staging_incremental_config(
    source=['web', 'web_events'],
    key='event_id',
    key_expression=clean_text('event_id'),
    time_column='event_ts',
    future_check=true,
    extra_post_hooks=["{{ staging_retention_expire('event_ts', 'retention__web_events_months') }}"],
)) }}

{%- set plan = staging_incremental_plan() %}
{%- set group_key = clean_text('source.event_id') %}

-- Every raw web event with its disposition. Exact duplicate events (tracker retries) collapse
-- to one; an event_id reused with other content keeps its latest version.

with

source as {{ not_materialized() }} (

    select * from {{ source('web', 'web_events') }}
    where {{ staging_source_filter(plan) }}

),

-- The event_ids read more than once (hashed). The events alone under their event_id (almost
-- all) skip the general classification (classify_rows), which then numbers, joins and ranks
-- only the few thousand others; every row is parsed once and nothing wide is materialized.
shared_groups as (

    {{ classify_shared_groups('source', group_key) }}

),

parsed as {{ not_materialized() }} (

    select
        {{ clean_text('source.event_id') }} as event_id,
        {{ clean_text('source.anonymous_id') }} as anonymous_id,
        {{ clean_text('source.customer_id') }} as customer_id,
        {{ normalize_email('source.email') }} as email,
        {{ clean_text('source.session_id') }} as session_id,
        lower({{ clean_text('source.event_type') }}) as event_type,
        {{ clean_text('source.page_url') }} as page_url,
        {{ clean_text('source.product_id') }} as product_id,
        lower({{ clean_text('source.device_type') }}) as device_type,
        lower({{ clean_text('source.traffic_source') }}) as traffic_source,
        {{ clean_text('source.event_ts') }} as event_ts_text,
        {{ parse_timestamp_utc('source.event_ts') }} as event_ts,
        {{ staging_raw_row_columns(['source.event_id', 'source.anonymous_id', 'source.customer_id',
            'source.email', 'source.session_id', 'source.event_type', 'source.event_ts',
            'source.page_url', 'source.product_id', 'source.device_type',
            'source.traffic_source']) }}
    from source
    {{ classify_shared_join(group_key) }}

),

checked as {{ not_materialized() }} (

    select
        *,
        {{ first_failing_check([
            ['event_id is null', 'missing_event_id'],
        ] + timestamp_checks('event_ts') + [
            ["event_type is null or event_type not in ('" ~ var('segments__web_event_types') | join("', '") ~ "')", 'unknown_event_type'],
            ['anonymous_id is null and customer_id is null and email is null', 'no_visitor_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_incremental_batch(plan, visible_at='event_ts',
        key_columns=['event_id'],
        version_order='event_ts desc, row_fingerprint',
        key_mode='conflict',
    ) }}

),

final as (

    select
        event_id,
        anonymous_id,
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        session_id,
        event_type,
        page_url,
        product_id,
        device_type,
        traffic_source,
        event_ts,
        {{ staging_disposition_columns(run_stamp=true) }}
    from classified

)

select * from final
