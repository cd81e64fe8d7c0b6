-- One row per customer with at least one order (any status), as of as_of_date: completed
-- orders, revenue and discounts overall and per window (var features__order_windows_days),
-- returned and cancelled orders, the preferred order channel and the category breadth and
-- favourite. Ephemeral: only customer_features reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set order_windows = var('features__order_windows_days') -%}
{%- set as_of = as_of_date_sql() %}

with

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
customer_orders as {{ not_materialized() }} (

    select * from {{ ref('int_customer_orders') }}

),

category_spend as (

    select * from {{ ref('int_customer_category_spend') }}

),

order_totals as (

    select
        customer_sk,
        count(*) filter (where is_completed) as order_count,
        count(distinct order_date) filter (where is_completed) as purchase_days,
        coalesce(sum(order_total_reporting) filter (where is_completed), 0) as net_revenue,
        sum(discount_amount_reporting) filter (where is_completed) as discounts,
        min(order_ts) filter (where is_completed) as first_order_at,
        max(order_ts) filter (where is_completed) as last_order_at,
        {%- for days in order_windows %}
            count(*) filter (
                where is_completed and order_date > {{ as_of }} - {{ days }}
            ) as orders_{{ days }}d,
            coalesce(sum(order_total_reporting) filter (
                where is_completed and order_date > {{ as_of }} - {{ days }}
            ), 0) as revenue_{{ days }}d,
        {%- endfor %}
        count(*) as all_orders,
        count(*) filter (where status = 'returned') as returned_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders
    from customer_orders
    group by customer_sk

),

-- Most frequent channel of completed orders; ties go to the alphabetically first channel.
channel_preference as (

    select
        customer_sk,
        preferred_channel
    from (
        select
            customer_sk,
            channel as preferred_channel,
            row_number() over (
                partition by customer_sk order by count(*) desc, channel
            ) as preference
        from customer_orders
        where is_completed and channel is not null
        group by customer_sk, channel
    ) as ranked_channels
    where preference = 1

),

-- category_spend holds completed orders only: its customers are all in order_totals.
category_summary as (

    select
        customer_sk,
        count(*) as distinct_categories,  -- one category_spend row per category
        -- ties go to the alphabetically first category
        {{ arg_min_by('category', [('revenue', '-revenue'), ('category', 'category')]) }}
            as top_category
    from category_spend
    group by customer_sk

),

final as (

    select
        order_totals.*,
        channel_preference.preferred_channel,
        category_summary.distinct_categories,
        category_summary.top_category
    from order_totals
    left join channel_preference
        on order_totals.customer_sk = channel_preference.customer_sk
    left join category_summary
        on order_totals.customer_sk = category_summary.customer_sk

)

select * from final
