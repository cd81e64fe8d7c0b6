-- One row per staged order of a resolved, non-erased customer: the order fact that BI tools
-- and the semantic layer (models/marts/semantic) aggregate. No PII: the customer is its
-- customer_key. Orders dated after as_of_date are not staged, so not here.

with

customer_orders as (

    select * from {{ ref('int_customer_orders') }}

),

final as (

    select
        order_id,
        {{ customer_key_from_sk('customer_sk') }} as customer_key,
        order_date,
        order_ts as ordered_at,
        status,
        is_completed,
        channel,
        cast(order_total_reporting as decimal(18, 2)) as order_total,
        cast(discount_amount_reporting as decimal(18, 2)) as discount_amount
    from customer_orders

)

select * from final
