-- One row per customer (dim_customers) as of as_of_date: the feature table that RFM,
-- segments and the ML models read. Point-in-time: every input is a staged model, and staging
-- shows nothing dated after as_of_date. The per-customer order, web and campaign summaries
-- (windows are vars features__order_windows_days, features__web_windows_days) come joined
-- from int_customer_activity; this model does the population-level cleaning: unknown age and
-- gender are imputed (median, mode) and flagged; monetary outliers are flagged (IQR and
-- z-score) and net revenue is winsorised for scoring (features__winsorize_quantiles).

{%- set order_windows = var('features__order_windows_days') -%}
{%- set web_windows = var('features__web_windows_days') -%}
{%- set as_of = as_of_date_sql() %}

with

activity as (

    select * from {{ ref('int_customer_activity') }}

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
        from activity
    ) as with_gender_counts

),

final as (

    select
        activity.customer_key,
        activity.top_category,
        activity.preferred_channel,
        coalesce(activity.known_gender, population.mode_gender) as gender,
        cast(coalesce(activity.plausible_age, population.median_age) as integer) as age,
        activity.order_count,
        activity.purchase_days,
        cast(activity.net_revenue as decimal(18, 2)) as net_revenue,
        cast(activity.net_revenue as double) / nullif(activity.order_count, 0) as avg_order_value,
        case
            when activity.last_order_at is not null
                then {{ days_before_as_of('cast(activity.last_order_at as date)') }}
        end as recency_days,
        {{ days_before_as_of('cast(activity.first_seen_at as date)') }} as tenure_days,
        {%- for days in order_windows %}
            activity.orders_{{ days }}d,
            cast(activity.revenue_{{ days }}d as decimal(18, 2)) as revenue_{{ days }}d,
        {%- endfor %}
        activity.distinct_categories,
        cast(activity.discounts as double)
        / nullif(activity.net_revenue + activity.discounts, 0) as discount_share,
        cast(activity.returned_orders as double) / nullif(activity.all_orders, 0) as return_rate,
        cast(activity.cancelled_orders as double) / nullif(activity.all_orders, 0) as cancel_rate,
        {%- for days in web_windows %}
            activity.sessions_{{ days }}d,
            activity.product_views_{{ days }}d,
        {%- endfor %}
        activity.add_to_carts_30d,
        cast(activity.abandoned_cart_sessions as double)
        / nullif(activity.cart_sessions, 0) as cart_abandonment_rate,
        case
            when activity.last_visit_at is not null
                then {{ days_before_as_of('cast(activity.last_visit_at as date)') }}
        end as days_since_last_visit,
        activity.mobile_session_share,
        activity.emails_delivered,
        cast(activity.emails_opened as double) / nullif(activity.emails_delivered, 0) as email_open_rate,
        cast(activity.emails_clicked as double) / nullif(activity.emails_delivered, 0) as email_click_rate,
        activity.campaign_conversions,
        least(
            greatest(cast(activity.net_revenue as double), population.revenue_floor),
            population.revenue_ceiling
        ) as net_revenue_winsorized,
        activity.order_count = 0 as is_prospect,
        activity.known_gender is null as is_gender_imputed,
        activity.plausible_age is null as is_age_imputed,
        activity.order_count > 0 and (
            activity.net_revenue > population.revenue_q3 + 1.5 * population.revenue_iqr
            or activity.net_revenue < population.revenue_q1 - 1.5 * population.revenue_iqr
        ) as is_monetary_outlier_iqr,
        activity.order_count > 0
        and abs(activity.net_revenue - population.revenue_mean)
        > 3 * nullif(population.revenue_stddev, 0) as is_monetary_outlier_zscore,
        activity.has_email_consent,
        activity.has_sms_consent,
        activity.has_ads_consent,
        activity.has_push_consent,
        activity.first_order_at,
        activity.last_order_at,
        {{ as_of }} as as_of_date
    from activity
    cross join population

)

select * from final
