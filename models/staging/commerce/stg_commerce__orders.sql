-- Orders placed on or before as_of_date that passed every check, one row per order_id, with
-- amounts in the order's currency and in the reporting currency.

with

orders as (

    select * from {{ ref('base_commerce__orders') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns(computed=['is_completed']) }},
        status = 'completed' as is_completed
    from orders

)

select * from final
