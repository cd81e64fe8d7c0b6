-- The product catalogue: one row per product_id.

with

products as (

    select * from {{ ref('base_commerce__products') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from products

)

select * from final
