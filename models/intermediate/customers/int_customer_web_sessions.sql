-- Web sessions attributed to customers: an event belongs to the customer of its customer_id,
-- else of its email, else of its cookie (identity map). One row per (session, customer):
-- device, start, and what happened in it. Sessions of visitors who never became customers and
-- of erased customers are left out.

with

events as (

    select * from {{ ref('stg_web__events') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

customer_keys as (

    select customer_key from {{ ref('int_customer_golden_records') }}
    where customer_key not in (
        select erased.customer_key from {{ ref('int_identity_erased_customer_keys') }} as erased
    )

),

attributed_events as (

    select
        events.session_id,
        events.event_type,
        events.device_type,
        events.event_ts,
        coalesce(
            by_customer_id.customer_key, by_email.customer_key, by_cookie.customer_key
        ) as customer_key
    from events
    left join resolved_nodes as by_customer_id
        on by_customer_id.node_id = 'customer_id:' || events.customer_id
    left join resolved_nodes as by_email
        on by_email.node_id = 'email:' || events.email
    left join resolved_nodes as by_cookie
        on by_cookie.node_id = 'anonymous_id:' || events.anonymous_id

),

final as (

    select
        attributed_events.customer_key,
        coalesce(attributed_events.session_id, 'event-day:' || cast(attributed_events.event_ts as date))
            as session_id,
        min(attributed_events.device_type) as device_type,
        count(*) filter (where attributed_events.event_type = 'product_view') as product_views,
        count(*) filter (where attributed_events.event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where attributed_events.event_type = 'purchase') as purchases,
        min(attributed_events.event_ts) as session_started_at
    from attributed_events
    inner join customer_keys
        on attributed_events.customer_key = customer_keys.customer_key
    group by
        attributed_events.customer_key,
        coalesce(attributed_events.session_id, 'event-day:' || cast(attributed_events.event_ts as date))

)

select * from final
