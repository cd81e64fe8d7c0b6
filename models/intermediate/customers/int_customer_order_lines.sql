-- Lines of customers' completed orders with their product category (for category breadth and
-- the favourite category). Lines whose product is not in the catalogue count as 'unknown'.

with

order_items as (

    select * from {{ ref('stg_commerce__order_items') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders') }}

),

products as (

    select * from {{ ref('stg_commerce__products') }}

),

final as (

    select
        customer_orders.customer_key,
        order_items.order_id,
        order_items.product_id,
        order_items.quantity,
        order_items.line_amount,
        customer_orders.order_ts,
        coalesce(products.category, 'unknown') as category
    from order_items
    inner join customer_orders
        on order_items.order_id = customer_orders.order_id
    left join products
        on order_items.product_id = products.product_id
    where customer_orders.is_completed

)

select * from final
