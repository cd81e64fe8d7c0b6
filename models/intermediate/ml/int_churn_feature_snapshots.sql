-- The churn model's inputs, computed once for the three churn models (customer_churn_scores,
-- model_metrics, model_feature_importance) instead of once in each: point-in-time features of
-- every buyer at two snapshots, and the label of the training snapshot.
--   training: features as of the retrain anchor - ml__churn_horizon_days (the cutoff),
--             labelled churned = 1 when the customer placed no completed order in the horizon
--             after it. The anchor is as_of_date floored to a ml__retrain_every_days
--             period (macro retrain_anchor_date), so the training rows stay the same for the
--             whole period and int_churn_model keeps its fit.
--   scoring:  the same features as of as_of_date (churned is null)
-- "As of" a date means the end of that day: orders dated on or before it and sessions that
-- started before the following midnight; nothing later is read. The feature definitions are
-- those of segwarehouse.ml.churn.point_in_time_features, the reference this model is tested
-- against (tests/python/test_ml_churn_snapshots.py).

{%- set horizon = var('ml__churn_horizon_days') %}
{%- set anchor = "cast('" ~ retrain_anchor_date(var('ml__retrain_every_days')) ~ "' as date)" %}

with

customer_orders as (

    select * from {{ ref('int_customer_orders') }}

),

web_sessions as (

    select * from {{ ref('int_customer_web_sessions') }}

),

snapshots as (

    select
        'training' as snapshot_name,
        {{ anchor }} - {{ horizon }} as snapshot_date,
        cast({{ anchor }} - {{ horizon }} + 1 as timestamp) as visible_before
    union all
    select
        'scoring' as snapshot_name,
        {{ as_of_date_sql() }} as snapshot_date,
        {{ visible_before_sql() }} as visible_before

),

visible_orders as (

    select
        snapshots.snapshot_name,
        customer_orders.customer_sk,
        customer_orders.status,
        customer_orders.order_date,
        -- Kept decimal and summed exactly: double sums depend on the order the two threads
        -- add in (1e-12 apart run to run), and the boosted trees turned that into churn
        -- probabilities 0.05 apart between two builds of the same data.
        customer_orders.order_total_reporting as order_total,
        -- bigint, as the days were before the date macro (integer) was used here
        cast(
            {{ date_diff_days('customer_orders.order_date', 'snapshots.snapshot_date') }} as bigint
        ) as days_before
    from customer_orders
    cross join snapshots
    where
        customer_orders.customer_sk is not null
        and customer_orders.order_date <= snapshots.snapshot_date

),

order_summary as (

    select
        snapshot_name,
        customer_sk,
        min(days_before) filter (where status = 'completed') as recency_days,
        max(days_before) filter (where status = 'completed') as tenure_days,
        count(distinct order_date) filter (where status = 'completed') as purchase_days,
        count(*) filter (where status = 'completed') as order_count,
        coalesce(sum(order_total) filter (where status = 'completed'), 0) as net_revenue,
        count(*) filter (where status = 'completed' and days_before < 30) as orders_30d,
        count(*) filter (where status = 'completed' and days_before < 90) as orders_90d,
        count(*) filter (where status = 'completed' and days_before < 365) as orders_365d,
        coalesce(
            sum(order_total) filter (where status = 'completed' and days_before < 90), 0
        ) as revenue_90d,
        count(*) filter (where status = 'returned') as returned_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders,
        count(*) as all_orders,
        -- mean days between distinct purchase days; null with a single purchase day
        cast(
            max(days_before) filter (where status = 'completed')
            - min(days_before) filter (where status = 'completed') as double
        ) / nullif(count(distinct order_date) filter (where status = 'completed') - 1, 0)
            as mean_gap_days
    from visible_orders
    group by snapshot_name, customer_sk
    having count(*) filter (where status = 'completed') > 0

),

-- Whole days from a session's start to the end of the snapshot day, floored (0 = that day).
visible_sessions as (

    select
        snapshots.snapshot_name,
        web_sessions.customer_sk,
        floor(
            (
                {{ epoch_seconds('snapshots.visible_before') }}
                - {{ epoch_seconds('web_sessions.session_started_at') }}
            ) / 86400
        ) as days_before
    from web_sessions
    cross join snapshots
    where
        web_sessions.customer_sk is not null
        and web_sessions.session_started_at < snapshots.visible_before

),

session_summary as (

    select
        snapshot_name,
        customer_sk,
        count(*) filter (where days_before < 30) as sessions_30d,
        count(*) filter (where days_before < 90) as sessions_90d,
        min(days_before) as days_since_last_visit
    from visible_sessions
    group by snapshot_name, customer_sk

),

-- 1 = no completed order in the horizon after the training cutoff (all on or before the anchor).
returning_customers as (

    select distinct customer_sk
    from customer_orders
    where
        status = 'completed'
        and order_date > {{ anchor }} - {{ horizon }}
        and order_date <= {{ anchor }}

),

final as (

    select
        order_summary.snapshot_name,
        snapshots.snapshot_date,
        {{ customer_key_from_sk('order_summary.customer_sk') }} as customer_key,
        cast(order_summary.net_revenue as double) as net_revenue,
        cast(order_summary.revenue_90d as double) as revenue_90d,
        cast(order_summary.recency_days as double) as recency_days,
        cast(order_summary.tenure_days as double) as tenure_days,
        cast(order_summary.purchase_days as double) as purchase_days,
        cast(order_summary.order_count as double) as order_count,
        cast(order_summary.orders_30d as double) as orders_30d,
        cast(order_summary.orders_90d as double) as orders_90d,
        cast(order_summary.orders_365d as double) as orders_365d,
        order_summary.mean_gap_days,
        cast(coalesce(session_summary.sessions_30d, 0) as double) as sessions_30d,
        cast(coalesce(session_summary.sessions_90d, 0) as double) as sessions_90d,
        cast(session_summary.days_since_last_visit as double) as days_since_last_visit,
        cast(order_summary.net_revenue as double) / order_summary.order_count as avg_order_value,
        order_summary.recency_days / order_summary.mean_gap_days as recency_over_mean_gap,
        cast(order_summary.returned_orders as double) / order_summary.all_orders as return_rate,
        cast(order_summary.cancelled_orders as double) / order_summary.all_orders as cancel_rate,
        case
            when order_summary.snapshot_name = 'training'
                then cast(returning_customers.customer_sk is null as integer)
        end as churned
    from order_summary
    inner join snapshots
        on order_summary.snapshot_name = snapshots.snapshot_name
    left join session_summary
        on
            order_summary.snapshot_name = session_summary.snapshot_name
            and order_summary.customer_sk = session_summary.customer_sk
    left join returning_customers
        on order_summary.customer_sk = returning_customers.customer_sk

)

select * from final
