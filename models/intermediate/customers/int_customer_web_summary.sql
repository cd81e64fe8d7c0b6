-- One row per customer with at least one web session, as of as_of_date: sessions and product
-- views per window (var features__web_windows_days), add-to-carts in the last 30 days, cart
-- sessions and abandoned ones, the last visit and the share of sessions on mobile or tablet.
-- Ephemeral: only customer_features reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set web_windows = var('features__web_windows_days') -%}
{%- set as_of = as_of_date_sql() %}

with

web_sessions as (

    select * from {{ ref('int_customer_web_sessions') }}

),

final as (

    select
        customer_sk,
        {%- for days in web_windows %}
            count(*) filter (
                where cast(session_started_at as date) > {{ as_of }} - {{ days }}
            ) as sessions_{{ days }}d,
            cast(coalesce(sum(product_views) filter (
                where cast(session_started_at as date) > {{ as_of }} - {{ days }}
            ), 0) as bigint) as product_views_{{ days }}d,
        {%- endfor %}
        cast(coalesce(sum(add_to_carts) filter (
            where cast(session_started_at as date) > {{ as_of }} - 30
        ), 0) as bigint) as add_to_carts_30d,
        count(*) filter (where add_to_carts > 0) as cart_sessions,
        count(*) filter (where add_to_carts > 0 and purchases = 0) as abandoned_cart_sessions,
        max(session_started_at) as last_visit_at,
        avg(cast(case when device_type in ('mobile', 'tablet') then 1 else 0 end as double))
            as mobile_session_share
    from web_sessions
    group by customer_sk

)

select * from final
