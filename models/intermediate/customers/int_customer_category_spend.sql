-- What each customer spent per product category on completed orders: one row per (customer,
-- category), for category breadth and the favourite category in customer_features. Lines whose
-- product is not in the catalogue count as 'unknown'. Aggregated here rather than kept line by
-- line: customer_features needs only these sums, and at 1M customers the 11M order lines cost
-- more to write out than to sum.

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

completed_lines as (

    select
        customer_orders.customer_sk,
        order_items.quantity,
        order_items.line_amount,
        coalesce(products.category, 'unknown') as category
    from order_items
    inner join customer_orders
        on order_items.order_id = customer_orders.order_id
    left join products
        on order_items.product_id = products.product_id
    where customer_orders.is_completed

),

final as (

    select
        customer_sk,
        category,
        count(*) as line_count,
        sum(quantity) as quantity,
        sum(line_amount) as revenue
    from completed_lines
    group by customer_sk, category

)

select * from final
