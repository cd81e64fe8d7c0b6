-- The product catalogue: one row per product_id.

with

products as (

    select * from {{ ref('base_commerce__products') }}
    where row_status = 'staged'

),

final as (

    select
        product_id,
        product_name,
        category,
        brand,
        list_price
    from products

)

select * from final
