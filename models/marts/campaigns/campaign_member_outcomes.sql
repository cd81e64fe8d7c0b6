-- One row per campaign and resolved customer assigned to it: the arm, when the attribution
-- window opened and what the member did in it.
-- A member is a customer with any event of the campaign (every event carries the variant, so
-- any event proves the assignment; the send is normally the first). The window opens at the
-- member's first event and lasts var experiments__attribution_window_days.
-- Conversion (var experiments__conversion_source):
--   campaign_event  a 'converted' event of this campaign in the window; revenue = its revenue.
--                   The campaign platform records conversions for both arms (the holdout too),
--                   which is what makes treatment and control comparable.
--   order           a completed order in the window; revenue = those orders' totals.
-- A customer seen in both arms of one campaign (two records resolved into one person) has no
-- variant: flagged, kept here to be counted, and left out of both arms downstream.

{%- set window_days = var('experiments__attribution_window_days') %}
{%- set conversion_source = var('experiments__conversion_source') %}
{%- if conversion_source not in ['campaign_event', 'order'] %}
    {{ exceptions.raise_compiler_error(
        "var experiments__conversion_source must be 'campaign_event' or 'order', got '"
        ~ conversion_source ~ "'."
    ) }}
{%- endif %}

with

campaign_events as (

    select * from {{ ref('int_customer_campaign_events') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders') }}

),

members as (

    select
        campaign_id,
        customer_sk,
        -- two variants: min <> max, the same test as count(distinct variant) > 1 without a
        -- distinct set per group (18M events at 1M customers)
        coalesce(min(variant) <> max(variant), false) as is_in_both_arms,
        min(variant) as only_variant,
        min(event_ts) as assigned_at,
        min(event_ts) + {{ days_interval(window_days) }} as attribution_ends_at
    from campaign_events
    group by campaign_id, customer_sk

),

-- Both ways of converting are written out; the var makes one of them empty (a constant
-- false filter, which DuckDB folds away before joining).
event_conversions as (

    select
        members.campaign_id,
        members.customer_sk,
        count(*) as conversion_count,
        sum(coalesce(campaign_events.revenue, 0)) as revenue
    from members
    inner join campaign_events
        on
            members.campaign_id = campaign_events.campaign_id
            and members.customer_sk = campaign_events.customer_sk
            and campaign_events.event_type = 'converted'
            and members.assigned_at <= campaign_events.event_ts
            and members.attribution_ends_at > campaign_events.event_ts
    where '{{ conversion_source }}' = 'campaign_event'
    group by members.campaign_id, members.customer_sk

),

order_conversions as (

    select
        members.campaign_id,
        members.customer_sk,
        count(*) as conversion_count,
        sum(customer_orders.order_total_reporting) as revenue
    from members
    inner join customer_orders
        on
            members.customer_sk = customer_orders.customer_sk
            and customer_orders.is_completed
            and members.assigned_at <= customer_orders.order_ts
            and members.attribution_ends_at > customer_orders.order_ts
    where '{{ conversion_source }}' = 'order'
    group by members.campaign_id, members.customer_sk

),

conversions as (

    select * from event_conversions
    union all
    select * from order_conversions

),

final as (

    select
        members.campaign_id,
        {{ customer_key_from_sk('members.customer_sk') }} as customer_key,
        case when not members.is_in_both_arms then members.only_variant end as variant,
        '{{ conversion_source }}' as conversion_source,
        cast(coalesce(conversions.conversion_count, 0) as integer) as conversion_count,
        cast(coalesce(conversions.revenue, 0) as decimal(18, 2)) as revenue,
        members.is_in_both_arms,
        conversions.customer_sk is not null as is_converted,
        members.attribution_ends_at <= {{ visible_before_sql() }} as is_window_complete,
        members.assigned_at,
        members.attribution_ends_at,
        {{ as_of_date_sql() }} as as_of_date
    from members
    left join conversions
        on
            members.campaign_id = conversions.campaign_id
            and members.customer_sk = conversions.customer_sk

)

select * from final
