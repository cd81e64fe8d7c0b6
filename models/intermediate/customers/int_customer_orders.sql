-- Staged orders attributed to their resolved customer (customer_record_map's rule: the
-- order's most trusted linking identifier). Unresolved orders (only junk or shared
-- identifiers) and orders of erased customers are left out.

with

orders as (

    select * from {{ ref('stg_commerce__orders') }}

),

record_keys as (

    select * from {{ ref('int_identity_record_keys') }}

),

final as (

    select
        record_keys.customer_sk,
        orders.order_id,
        orders.channel,
        orders.status,
        orders.order_total_reporting,
        orders.discount_amount_reporting,
        orders.is_completed,
        cast(orders.order_ts as date) as order_date,
        orders.order_ts
    from orders
    inner join record_keys
        on
            record_keys.record_type = 'order'
            and orders.order_id = record_keys.record_id
    where
        record_keys.customer_sk is not null
        and {{ customer_not_erased('record_keys.customer_sk') }}

)

select * from final
