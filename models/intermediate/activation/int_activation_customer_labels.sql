-- The labels an audience row carries per customer: RFM segment and lifecycle stage
-- (customer_rfm) and the CLV band, high, medium or low by percent rank of CLV among the
-- customers with one, cut at var activation__clv_band_quantiles. One row per customer with
-- either; audience_candidates labels a customer without a CLV 'unscored'. Ephemeral: only
-- audience_candidates reads it (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

{%- set band_from = var('activation__clv_band_quantiles') %}

with

customer_rfm as (

    select * from {{ ref('customer_rfm') }}

),

customer_clv as (

    select * from {{ ref('customer_clv') }}

),

clv_ranks as (

    select
        customer_key,
        percent_rank() over (order by clv) as clv_percent_rank
    from customer_clv
    where clv is not null

),

clv_bands as (

    select
        customer_key,
        case
            when clv_percent_rank >= {{ band_from[1] }} then 'high'
            when clv_percent_rank >= {{ band_from[0] }} then 'medium'
            else 'low'
        end as clv_band
    from clv_ranks

),

final as (

    select
        customer_rfm.rfm_segment,
        customer_rfm.lifecycle_stage,
        clv_bands.clv_band,
        coalesce(customer_rfm.customer_key, clv_bands.customer_key) as customer_key
    from customer_rfm
    full outer join clv_bands
        on customer_rfm.customer_key = clv_bands.customer_key

)

select * from final
