-- Order lines of staged orders (orders on or before as_of_date that passed every check);
-- amounts in the order's currency.

with

order_items as (

    select * from {{ ref('base_commerce__order_items') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from order_items

)

select * from final
