-- Every loaded campaign event in any status, with the identifiers it carries and the run that
-- last classified it. The incremental customer intermediates (int_customer_campaign_events)
-- read it to find the customers whose events a run (re-)classified: an event that left
-- stg_marketing__campaign_events is here with its new stamp too.

with

campaign_events as (

    select * from {{ ref('base_marketing__campaign_events') }}

),

final as (

    select
        customer_id,
        email,
        row_status,
        batch_run_started_at
    from campaign_events

)

select * from final
