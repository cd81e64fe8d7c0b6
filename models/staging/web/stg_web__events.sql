-- Web and app events on or before as_of_date that passed every check, one row per event_id.

with

events as (

    select * from {{ ref('base_web__events') }}
    where row_status = 'staged'

),

final as (

    select
        event_id,
        anonymous_id,
        customer_id,
        email,
        is_email_valid,
        session_id,
        event_type,
        page_url,
        product_id,
        device_type,
        traffic_source,
        event_ts
    from events

)

select * from final
