-- One row per customer (customer_features) as of as_of_date: RFM scores and segment, lifecycle
-- stage, and the inputs of BG/NBD / Gamma-Gamma CLV models.
-- Scores (macro rfm_quintile_score): 1-5 by rank-based quintiles among customers with a
-- completed order, 1 + floor(5 × share of buyers strictly worse), so equal values always get
-- equal scores. R = recency_days (fewer is better), F = purchase_days (distinct days with a
-- completed order: split baskets count once), M = net_revenue. rfm_segment comes from seed
-- rfm_segment_map (R × F grid); customers without a completed order have no scores and are
-- 'Prospect'.
-- CLV inputs count purchase days (the unit of repeat purchase in BG/NBD, as in the lifetimes
-- and pymc-marketing summaries), in days.
-- Lifecycle thresholds are vars segments__lifecycle_*; the stages are exclusive, checked in
-- this order: prospect, new, reactivated, active, lapsing, churned.

{%- set as_of = as_of_date_sql() %}
{%- set new_days = var('segments__lifecycle_new_days') %}
{%- set active_days = var('segments__lifecycle_active_days') %}
{%- set churn_days = var('segments__lifecycle_churn_days') %}

with

customer_features as (

    select * from {{ ref('customer_features') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders') }}

),

rfm_segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

purchase_days as (

    select
        customer_sk,
        order_date as purchase_date,
        sum(order_total_reporting) as purchase_value
    from customer_orders
    where is_completed
    group by customer_sk, order_date

),

purchase_sequence as (

    select
        customer_sk,
        purchase_date,
        purchase_value,
        row_number() over (
            partition by customer_sk order by purchase_date
        ) as purchase_number,
        {{ date_diff_days(
            'lag(purchase_date) over (partition by customer_sk order by purchase_date)',
            'purchase_date'
        ) }} as days_since_previous_purchase
    from purchase_days

),

purchase_summary as (

    select
        {{ customer_key_from_sk('customer_sk') }} as customer_key,
        count(*) - 1 as frequency,
        coalesce(
            {{ avg_as_double('purchase_value', 'purchase_number > 1') }}, 0
        ) as monetary_clv,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        -- The latest return after a silence longer than the churn threshold.
        max(purchase_date) filter (
            where days_since_previous_purchase > {{ churn_days }}
        ) as reactivated_on
    from purchase_sequence
    group by customer_sk

),

scores as (

    select
        customer_key,
        {{ rfm_quintile_score('recency_days', best='lowest') }} as r_score,
        {{ rfm_quintile_score('purchase_days', best='highest') }} as f_score,
        {{ rfm_quintile_score('net_revenue', best='highest') }} as m_score
    from customer_features
    where not is_prospect

),

final as (

    select
        customer_features.customer_key,
        cast(scores.r_score as {{ dbt.type_string() }})
        || cast(scores.f_score as {{ dbt.type_string() }})
        || cast(scores.m_score as {{ dbt.type_string() }}) as rfm_cell,
        case
            when customer_features.is_prospect then 'Prospect'
            else rfm_segment_map.rfm_segment
        end as rfm_segment,
        case
            when purchase_summary.customer_key is null then 'prospect'
            when {{ days_before_as_of('purchase_summary.first_purchase_date') }} <= {{ new_days }}
                then 'new'
            when {{ days_before_as_of('purchase_summary.reactivated_on') }} <= {{ active_days }}
                then 'reactivated'
            when {{ days_before_as_of('purchase_summary.last_purchase_date') }} <= {{ active_days }}
                then 'active'
            when {{ days_before_as_of('purchase_summary.last_purchase_date') }} <= {{ churn_days }}
                then 'lapsing'
            else 'churned'
        end as lifecycle_stage,
        scores.r_score,
        scores.f_score,
        scores.m_score,
        customer_features.recency_days,
        customer_features.purchase_days,
        customer_features.net_revenue,
        cast(purchase_summary.frequency as integer) as frequency,
        {{ date_diff_days(
            'purchase_summary.first_purchase_date', 'purchase_summary.last_purchase_date'
        ) }} as recency_clv_days,
        {{ days_before_as_of('purchase_summary.first_purchase_date') }} as age_clv_days,
        cast(purchase_summary.monetary_clv as double) as monetary_clv,
        purchase_summary.first_purchase_date,
        purchase_summary.last_purchase_date,
        {{ as_of }} as as_of_date
    from customer_features
    left join scores
        on customer_features.customer_key = scores.customer_key
    left join purchase_summary
        on customer_features.customer_key = purchase_summary.customer_key
    left join rfm_segment_map
        on
            scores.r_score between rfm_segment_map.r_score_min and rfm_segment_map.r_score_max
            and scores.f_score between rfm_segment_map.f_score_min and rfm_segment_map.f_score_max

)

select * from final
