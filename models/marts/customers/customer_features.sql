-- One row per customer (dim_customers) as of as_of_date: the feature table that RFM,
-- segments and the ML models read. Point-in-time: every input is a staged model, and staging
-- shows nothing dated after as_of_date. Windows are vars (features__order_windows_days,
-- features__web_windows_days). Cleaning is explicit: unknown age and gender are imputed
-- (median, mode) and flagged; monetary outliers are flagged (IQR and z-score) and net revenue
-- is winsorised for scoring (features__winsorize_quantiles).

{%- set order_windows = var('features__order_windows_days') -%}
{%- set web_windows = var('features__web_windows_days') -%}
{%- set as_of = as_of_date_sql() %}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

golden_records as (

    select * from {{ ref('int_customer_golden_records') }}

),

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
customer_orders as {{ not_materialized() }} (

    select * from {{ ref('int_customer_orders') }}

),

category_spend as (

    select * from {{ ref('int_customer_category_spend') }}

),

web_sessions as (

    select * from {{ ref('int_customer_web_sessions') }}

),

campaign_events as (

    select * from {{ ref('int_customer_campaign_events') }}

),

order_summary as (

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

web_summary as (

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

),

-- Email engagement counts emails (one per campaign), not events: an email opened twice is one
-- open, and an open or a click proves delivery even when the delivery receipt is missing (a
-- quarantined row, a provider that drops receipts), a click proves an open. So open and click
-- rates stay within [0, 1]. Conversions are events, on any channel.
campaign_touches as (

    select
        customer_sk,
        campaign_id,
        bool_or(
            channel = 'email' and event_type in ('delivered', 'opened', 'clicked')
        ) as is_email_delivered,
        bool_or(channel = 'email' and event_type in ('opened', 'clicked')) as is_email_opened,
        bool_or(channel = 'email' and event_type = 'clicked') as is_email_clicked,
        count(*) filter (where event_type = 'converted') as conversions
    from campaign_events
    where
        (channel = 'email' and event_type in ('delivered', 'opened', 'clicked'))
        or event_type = 'converted'
    group by
        customer_sk,
        campaign_id

),

campaign_summary as (

    select
        customer_sk,
        count(*) filter (where is_email_delivered) as emails_delivered,
        count(*) filter (where is_email_opened) as emails_opened,
        count(*) filter (where is_email_clicked) as emails_clicked,
        sum(conversions) as campaign_conversions
    from campaign_touches
    group by customer_sk

),

joined as (

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
        channel_preference.preferred_channel,
        coalesce(category_summary.distinct_categories, 0) as distinct_categories,
        category_summary.top_category,
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
    left join channel_preference
        on golden_records.customer_sk = channel_preference.customer_sk
    left join category_summary
        on golden_records.customer_sk = category_summary.customer_sk
    left join web_summary
        on golden_records.customer_sk = web_summary.customer_sk
    left join campaign_summary
        on golden_records.customer_sk = campaign_summary.customer_sk

),

-- Population statistics for imputation and outlier handling (buyers only for money).
population as (

    select
        {{ quantile_cont('plausible_age', 0.5) }} as median_age,
        -- most common known gender; ties go to the alphabetically first
        {{ arg_min_by('known_gender', [('n', '-gender_count'), ('gender', 'known_gender')]) }}
        filter (where known_gender is not null) as mode_gender,
        {{ quantile_cont('net_revenue', 0.25) }} filter (where order_count > 0) as revenue_q1,
        {{ quantile_cont('net_revenue', 0.75) }} filter (where order_count > 0) as revenue_q3,
        {{ quantile_cont('net_revenue', 0.75) }} filter (where order_count > 0)
        - {{ quantile_cont('net_revenue', 0.25) }} filter (where order_count > 0) as revenue_iqr,
        avg(net_revenue) filter (where order_count > 0) as revenue_mean,
        stddev_pop(net_revenue) filter (where order_count > 0) as revenue_stddev,
        {{ quantile_cont('net_revenue', var('features__winsorize_quantiles')[0]) }}
        filter (where order_count > 0) as revenue_floor,
        {{ quantile_cont('net_revenue', var('features__winsorize_quantiles')[1]) }}
        filter (where order_count > 0) as revenue_ceiling
    from (
        select
            *,
            count(*) over (partition by known_gender) as gender_count
        from joined
    ) as with_gender_counts

),

final as (

    select
        joined.customer_key,
        joined.top_category,
        joined.preferred_channel,
        coalesce(joined.known_gender, population.mode_gender) as gender,
        cast(coalesce(joined.plausible_age, population.median_age) as integer) as age,
        joined.order_count,
        joined.purchase_days,
        cast(joined.net_revenue as decimal(18, 2)) as net_revenue,
        cast(joined.net_revenue as double) / nullif(joined.order_count, 0) as avg_order_value,
        case
            when joined.last_order_at is not null
                then {{ days_before_as_of('cast(joined.last_order_at as date)') }}
        end as recency_days,
        {{ days_before_as_of('cast(joined.first_seen_at as date)') }} as tenure_days,
        {%- for days in order_windows %}
            joined.orders_{{ days }}d,
            cast(joined.revenue_{{ days }}d as decimal(18, 2)) as revenue_{{ days }}d,
        {%- endfor %}
        joined.distinct_categories,
        cast(joined.discounts as double)
        / nullif(joined.net_revenue + joined.discounts, 0) as discount_share,
        cast(joined.returned_orders as double) / nullif(joined.all_orders, 0) as return_rate,
        cast(joined.cancelled_orders as double) / nullif(joined.all_orders, 0) as cancel_rate,
        {%- for days in web_windows %}
            joined.sessions_{{ days }}d,
            joined.product_views_{{ days }}d,
        {%- endfor %}
        joined.add_to_carts_30d,
        cast(joined.abandoned_cart_sessions as double)
        / nullif(joined.cart_sessions, 0) as cart_abandonment_rate,
        case
            when joined.last_visit_at is not null
                then {{ days_before_as_of('cast(joined.last_visit_at as date)') }}
        end as days_since_last_visit,
        joined.mobile_session_share,
        joined.emails_delivered,
        cast(joined.emails_opened as double) / nullif(joined.emails_delivered, 0) as email_open_rate,
        cast(joined.emails_clicked as double) / nullif(joined.emails_delivered, 0) as email_click_rate,
        joined.campaign_conversions,
        least(
            greatest(cast(joined.net_revenue as double), population.revenue_floor),
            population.revenue_ceiling
        ) as net_revenue_winsorized,
        joined.order_count = 0 as is_prospect,
        joined.known_gender is null as is_gender_imputed,
        joined.plausible_age is null as is_age_imputed,
        joined.order_count > 0 and (
            joined.net_revenue > population.revenue_q3 + 1.5 * population.revenue_iqr
            or joined.net_revenue < population.revenue_q1 - 1.5 * population.revenue_iqr
        ) as is_monetary_outlier_iqr,
        joined.order_count > 0
        and abs(joined.net_revenue - population.revenue_mean)
        > 3 * nullif(population.revenue_stddev, 0) as is_monetary_outlier_zscore,
        joined.has_email_consent,
        joined.has_sms_consent,
        joined.has_ads_consent,
        joined.has_push_consent,
        joined.first_order_at,
        joined.last_order_at,
        {{ as_of }} as as_of_date
    from joined
    cross join population

)

select * from final
