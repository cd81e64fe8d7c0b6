-- Incremental on DuckDB (docs/incremental.md; on Spark the table is overwritten whole,
-- docs/scale_out.md): a run reads only new landing files and the files holding
-- the loaded rows of the groups they touch, re-classifies those groups exactly as a full
-- build would, and replaces them (delete+insert on the group key). Campaign events have no
-- id: the group is the row fingerprint (exact copies).
{%- set fingerprint_columns = ['campaign_id', 'customer_id', 'email', 'channel', 'event_type',
    'variant', 'event_ts', 'revenue'] %}
{{ config(**staging_incremental_config(
    source=['marketing', 'campaign_events'],
    key='row_fingerprint',
    key_expression=row_fingerprint(fingerprint_columns),
    time_column='event_ts',
    future_check=true,
)) }}

{%- set plan = staging_incremental_plan() %}
{%- set source_fingerprint_columns = [] %}
{%- for column in fingerprint_columns %}{% do source_fingerprint_columns.append('source.' ~ column) %}{% endfor %}
{%- set group_key = row_fingerprint_text(source_fingerprint_columns) %}

-- Every raw campaign event with its disposition. Campaign events have no id of their own:
-- exact duplicates collapse, distinct events are all kept.

with

source as {{ not_materialized() }} (

    select * from {{ source('marketing', 'campaign_events') }}
    where {{ staging_source_filter(plan) }}

),

-- The fingerprints read more than once (hashed, from the text the fingerprint hashes). The
-- events alone under their fingerprint (almost all: exact copies are rare) skip the general
-- classification (classify_rows), which then numbers, joins and ranks only the others.
shared_groups as (

    {{ classify_shared_groups('source', group_key) }}

),

parsed as {{ not_materialized() }} (

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
        {{ staging_raw_row_columns(source_fingerprint_columns) }}
    from source
    {{ classify_shared_join(group_key) }}

),

checked as {{ not_materialized() }} (

    select
        *,
        {{ first_failing_check([
            ['campaign_id is null', 'missing_campaign_id'],
        ] + timestamp_checks('event_ts') + [
            ["event_type is null or event_type not in ('" ~ var('segments__campaign_event_types') | join("', '") ~ "')", 'unknown_event_type'],
            ["variant is not null and variant not in ('" ~ var('segments__campaign_variants') | join("', '") ~ "')", 'unknown_variant'],
            ['revenue_text is not null and revenue is null', 'unparseable_revenue'],
            ['revenue < 0', 'negative_revenue'],
            ['customer_id is null and email is null', 'no_recipient_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

classified as (

    {{ classify_incremental_batch(plan, visible_at='event_ts') }}

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
        {{ staging_disposition_columns(run_stamp=true) }}
    from classified

)

select * from final
