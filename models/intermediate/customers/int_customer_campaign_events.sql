-- Campaign events attributed to customers (through the recipient's customer_id, else email).
-- Events of unknown recipients and of erased customers are left out.
-- Incremental (docs/incremental.md, "Customer intermediates"): a run recomputes the events of
-- the customers it touched (macro customer_campaign_events_touched) from their events only.
-- depends_on: {{ ref('stg_marketing__campaign_event_batches') }}

{{ config(**customer_incremental_config(
    'customer_campaign_events_touched', 'customer_campaign_events_identity_map'
)) }}

with

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
resolved_nodes as {{ not_materialized() }} (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

-- The events of the customers this run touched (all on a full build).
{{ customer_touched_source(
    'campaign_events', 'stg_marketing__campaign_events', customer_campaign_events_identifier_columns()
) }},

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
        and {{ customer_not_erased('customer_sk') }}
        and {{ customer_incremental_touched_filter('customer_sk') }}

)

select * from final
