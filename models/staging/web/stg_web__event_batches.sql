-- Every loaded web event in any status, with the identifiers it carries and the run that last
-- classified it. The incremental customer intermediates (int_customer_web_sessions) read it to
-- find the customers whose events a run (re-)classified: an event that left stg_web__events
-- (a re-send with other content won, as_of_date moved back) is here with its new stamp too.

with

events as (

    select * from {{ ref('base_web__events') }}

),

final as (

    select
        event_id,
        customer_id,
        email,
        anonymous_id,
        row_status,
        batch_run_started_at
    from events

)

select * from final
