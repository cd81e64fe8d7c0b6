-- Orders placed on or before as_of_date that passed every check, one row per order_id, with
-- amounts in the order's currency and in the reporting currency.

with

orders as (

    select * from {{ ref('base_commerce__orders') }}
    where row_status = 'staged'

),

final as (

    select
        order_id,
        customer_id,
        email,
        is_email_valid,
        loyalty_id,
        anonymous_id,
        channel,
        status,
        currency_code,
        order_total,
        discount_amount,
        order_total_reporting,
        discount_amount_reporting,
        order_ts,
        status = 'completed' as is_completed
    from orders

)

select * from final
