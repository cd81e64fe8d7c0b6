-- Order lines of staged orders (orders on or before as_of_date that passed every check);
-- amounts in the order's currency.

with

order_items as (

    select * from {{ ref('base_commerce__order_items') }}
    where row_status = 'staged'

),

final as (

    select
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        line_amount
    from order_items

)

select * from final
