-- Incremental (docs/incremental.md): a run reads only new landing files and the files holding
-- the loaded rows of the groups they touch, re-classifies those groups exactly as a full
-- build would, and replaces them (delete+insert on the group key). Campaign events have no
-- id: the group is the row fingerprint (exact copies).
{%- set fingerprint_columns = ['campaign_id', 'customer_id', 'email', 'channel', 'event_type',
    'variant', 'event_ts', 'revenue'] %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='row_fingerprint',
    on_schema_change='fail',
    pre_hook="{{ staging_incremental_reset() }}",
    post_hook="{{ staging_record_landing_files() }}",
    meta={'staging_incremental': {
        'source': ['marketing', 'campaign_events'],
        'key': 'row_fingerprint',
        'key_expression': row_fingerprint(fingerprint_columns),
        'time_column': 'event_ts',
        'future_check': true,
    }},
) }}

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
        source._landing_file,
        shared_groups._classify_group_hash is not null as _classify_shared,
        -- `source` here is the whole raw row (for the quarantine), not a column.
        {{ whole_row('source') }} as raw_row,
        {{ row_fingerprint(source_fingerprint_columns) }} as row_fingerprint
    from source
    left join shared_groups
        on {{ classify_group_hash(group_key) }} = shared_groups._classify_group_hash

),

checked as {{ not_materialized() }} (

    select
        *,
        {{ first_failing_check([
            ['campaign_id is null', 'missing_campaign_id'],
            ['event_ts_text is null', 'missing_event_ts'],
            ['event_ts is null', 'unparseable_event_ts'],
            ['event_ts > ' ~ future_cutoff_sql(), 'future_timestamp'],
            ['event_ts < ' ~ earliest_plausible_sql(), 'implausibly_old_timestamp'],
            [is_placeholder_timestamp('event_ts'), 'placeholder_timestamp'],
            ["event_type is null or event_type not in ('" ~ var('segments__campaign_event_types') | join("', '") ~ "')", 'unknown_event_type'],
            ["variant is not null and variant not in ('" ~ var('segments__campaign_variants') | join("', '") ~ "')", 'unknown_variant'],
            ['revenue_text is not null and revenue is null', 'unparseable_revenue'],
            ['revenue < 0', 'negative_revenue'],
            ['customer_id is null and email is null', 'no_recipient_identifier'],
        ]) }} as quarantine_reason
    from parsed

),

batch as {{ not_materialized() }} (

    select * from checked
    where {{ staging_batch_filter(plan, 'checked') }}

),

classified as (

    {{ classify_rows(
        'batch',
        visible_at='event_ts',
        copy_order='_landing_file',
        shared_flag='_classify_shared',
    ) }}

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
        case when row_status = 'quarantined' then {{ row_json('raw_row') }} end as raw_record,
        {{ staging_batch_run_started_at() }} as batch_run_started_at
    from classified

)

select * from final
