-- Campaign events attributed to customers (through the recipient's customer_id, else email).
-- Events of unknown recipients and of erased customers are left out.
-- Incremental (docs/incremental.md, "Customer intermediates"): a run recomputes the events of
-- the customers it touched (macro customer_campaign_events_touched) from their events only.
-- depends_on: {{ ref('stg_marketing__campaign_event_batches') }}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_sk',
    on_schema_change='fail',
    pre_hook="{{ customer_incremental_prepare(customer_campaign_events_touched()) }}",
    post_hook="{{ customer_incremental_record_state(customer_campaign_events_identity_map()) }}",
) }}

{%- set is_full = customer_incremental_is_full() %}

with

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
resolved_nodes as {{ not_materialized() }} (

    select * from {{ ref('int_identity_resolved_nodes') }}

),
{%- if not is_full %}

-- Incremental run: the identifiers of the touched customers. Every event attributed to one of
-- them carries one of these.
touched_identifiers as (

    {{ customer_touched_identifiers('resolved_nodes') }}

),
{%- endif %}

campaign_events as (

    select * from {{ ref('stg_marketing__campaign_events') }}
    {%- if not is_full %}
        where {{ customer_with_identifiers(
            '', customer_campaign_events_identifier_columns(), 'touched_identifiers'
        ) }}
    {%- endif %}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

attributed as (

    select
        campaign_events.campaign_id,
        campaign_events.channel,
        campaign_events.event_type,
        campaign_events.variant,
        campaign_events.revenue,
        campaign_events.event_ts,
        coalesce(by_customer_id.customer_sk, by_email.customer_sk) as customer_sk
    from campaign_events
    left join resolved_nodes as by_customer_id
        on
            by_customer_id.identifier_type = 'customer_id'
            and campaign_events.customer_id = by_customer_id.identifier_value
    left join resolved_nodes as by_email
        on
            by_email.identifier_type = 'email'
            and campaign_events.email = by_email.identifier_value

),

final as (

    select
        customer_sk,
        campaign_id,
        channel,
        event_type,
        variant,
        revenue,
        event_ts
    from attributed
    where
        customer_sk is not null
        and customer_sk not in (
            select erased_customer_keys.customer_sk from erased_customer_keys
        )
        and {{ customer_incremental_touched_filter('customer_sk') }}

)

select * from final
