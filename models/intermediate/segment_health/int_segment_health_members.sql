-- Members of each segment at as_of_date and what they are worth: one row per segment with
-- members (segment_membership). Revenue, completed orders and members converted within
-- var health__conversion_window_days (customer_features), mean CLV (customer_clv) and mean
-- churn probability (customer_churn_scores). Ephemeral: only segment_health reads it
-- (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set conversion_days = var('health__conversion_window_days') | int %}
{%- if conversion_days not in var('features__order_windows_days') | map('int') | list %}
    {{ exceptions.raise_compiler_error(
        "var health__conversion_window_days (" ~ conversion_days ~ ") must be one of "
        ~ "features__order_windows_days " ~ var('features__order_windows_days')
        ~ ": conversion is read from customer_features.orders_<n>d."
    ) }}
{%- endif %}

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

customer_features as (

    select * from {{ ref('customer_features') }}

),

customer_clv as (

    select * from {{ ref('customer_clv') }}

),

customer_churn_scores as (

    select * from {{ ref('customer_churn_scores') }}

),

final as (

    select
        segment_membership.segment_id,
        count(*) as members,
        sum(customer_features.net_revenue) as net_revenue,
        sum(customer_features.order_count) as orders,
        count(*) filter (where customer_features.orders_{{ conversion_days }}d > 0) as converted_members,
        avg(customer_clv.clv) as mean_clv,
        avg(customer_churn_scores.churn_probability) as mean_churn_probability
    from segment_membership
    inner join customer_features
        on segment_membership.customer_key = customer_features.customer_key
    left join customer_clv
        on segment_membership.customer_key = customer_clv.customer_key
    left join customer_churn_scores
        on segment_membership.customer_key = customer_churn_scores.customer_key
    group by segment_membership.segment_id

)

select * from final
