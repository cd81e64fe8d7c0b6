-- One row per customer (dim_customers) as of as_of_date: consent, first sighting, plausible
-- age and the order, web and campaign summaries, counts 0 where a customer has none; before
-- the population-level cleaning (imputation, outliers, winsorising) of customer_features.
-- Ephemeral: only customer_features reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set order_windows = var('features__order_windows_days') -%}
{%- set web_windows = var('features__web_windows_days') -%}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

golden_records as (

    select * from {{ ref('int_customer_golden_records') }}

),

order_summary as (

    select * from {{ ref('int_customer_order_summary') }}

),

web_summary as (

    select * from {{ ref('int_customer_web_summary') }}

),

campaign_summary as (

    select * from {{ ref('int_customer_campaign_summary') }}

),

final as (

    select
        customers.customer_key,
        customers.gender as known_gender,
        customers.has_email_consent,
        customers.has_sms_consent,
        customers.has_ads_consent,
        customers.has_push_consent,
        customers.first_seen_at,
        case
            when
                {{ years_before_as_of('golden_records.birth_date') }}
                between {{ var('features__plausible_age_range')[0] }} and {{ var('features__plausible_age_range')[1] }}
                then {{ years_before_as_of('golden_records.birth_date') }}
        end as plausible_age,
        coalesce(order_summary.order_count, 0) as order_count,
        coalesce(order_summary.purchase_days, 0) as purchase_days,
        coalesce(order_summary.net_revenue, 0) as net_revenue,
        coalesce(order_summary.discounts, 0) as discounts,
        order_summary.first_order_at,
        order_summary.last_order_at,
        {%- for days in order_windows %}
            coalesce(order_summary.orders_{{ days }}d, 0) as orders_{{ days }}d,
            coalesce(order_summary.revenue_{{ days }}d, 0) as revenue_{{ days }}d,
        {%- endfor %}
        coalesce(order_summary.all_orders, 0) as all_orders,
        coalesce(order_summary.returned_orders, 0) as returned_orders,
        coalesce(order_summary.cancelled_orders, 0) as cancelled_orders,
        order_summary.preferred_channel,
        coalesce(order_summary.distinct_categories, 0) as distinct_categories,
        order_summary.top_category,
        {%- for days in web_windows %}
            coalesce(web_summary.sessions_{{ days }}d, 0) as sessions_{{ days }}d,
            coalesce(web_summary.product_views_{{ days }}d, 0) as product_views_{{ days }}d,
        {%- endfor %}
        coalesce(web_summary.add_to_carts_30d, 0) as add_to_carts_30d,
        web_summary.cart_sessions,
        web_summary.abandoned_cart_sessions,
        web_summary.last_visit_at,
        web_summary.mobile_session_share,
        coalesce(campaign_summary.emails_delivered, 0) as emails_delivered,
        coalesce(campaign_summary.emails_opened, 0) as emails_opened,
        coalesce(campaign_summary.emails_clicked, 0) as emails_clicked,
        cast(coalesce(campaign_summary.campaign_conversions, 0) as bigint) as campaign_conversions
    from customers
    inner join golden_records
        on customers.customer_key = golden_records.customer_key
    left join order_summary
        on golden_records.customer_sk = order_summary.customer_sk
    left join web_summary
        on golden_records.customer_sk = web_summary.customer_sk
    left join campaign_summary
        on golden_records.customer_sk = campaign_summary.customer_sk

)

select * from final
