-- Hand-written floor for the customer features + RFM layer (issue #4): the same two tables as
-- the dbt marts customer_features and customer_rfm (every column, same definitions), computed
-- in two DuckDB statements with no intermediate tables, for timing the dbt layer
-- (models/intermediate/customers/int_customer_*, models/marts/customers/customer_features,
-- models/marts/segments/customer_rfm) against. benchmarks/features_rfm_baseline.py runs it,
-- times it and checks it equals the dbt marts column by column.
--
-- Inputs, read from a built dbt warehouse attached READ_ONLY as `wh` (the inputs of the dbt
-- layer, never its outputs):
--   wh.staging.stg_commerce__orders, stg_commerce__order_items, stg_commerce__products,
--     stg_web__events, stg_marketing__campaign_events, stg_crm__customers,
--     stg_privacy__consents
--   wh.intermediate.int_identity_record_keys (order and CRM record -> customer_key),
--     int_identity_resolved_nodes (identifier -> customer_key; first sighting),
--     int_identity_erased_customer_keys (customers left out)
--   wh.reference.source_system_priority, wh.reference.rfm_segment_map (seeds)
-- So the dbt side it is compared with is everything between identity and RFM: the six
-- int_customer_* models, dim_customers, customer_features and customer_rfm.
--
-- Variables, set by the caller before this script runs (the runner reads the defaults from
-- dbt_project.yml; the column names below assume the default windows, the runner checks):
--   as_of_date                        DATE, inclusive
--   features__order_windows_days      [30, 90, 365]  -> orders_/revenue_30d, _90d, _365d
--   features__web_windows_days        [7, 30]        -> sessions_/product_views_7d, _30d
--   features__plausible_age_range     [16, 100]
--   features__winsorize_quantiles     [0.01, 0.99]
--   segments__lifecycle_new_days, segments__lifecycle_active_days,
--   segments__lifecycle_churn_days    90, 90, 180
--   segments__consent_default_granted false (consent columns: email, sms, ads, push)
-- By hand, in the duckdb CLI on a fresh database file:
--   attach 'warehouse/segments.duckdb' as wh (read_only);
--   set variable as_of_date = date '2026-06-30';
--   set variable features__order_windows_days = [30, 90, 365];
--   set variable features__web_windows_days = [7, 30];
--   set variable features__plausible_age_range = [16, 100];
--   set variable features__winsorize_quantiles = [0.01, 0.99];
--   set variable segments__lifecycle_new_days = 90;
--   set variable segments__lifecycle_active_days = 90;
--   set variable segments__lifecycle_churn_days = 180;
--   set variable segments__consent_default_granted = false;
--   .read benchmarks/features_rfm_baseline.sql
--
-- Shape: no intermediate tables; every source is aggregated straight to one row per customer
-- (orders are joined to their customer once, in a CTE the order, channel and category
-- aggregates share), and the per-customer rows meet the customer list in one join. Web events
-- are first grouped per (session, customer_id, email, cookie), so the three identifier
-- look-ups run once per group instead of once per event, then per (customer, session), then
-- per customer. Look-ups use per-type slices of the resolved nodes keyed on the bare
-- identifier value (starts_with + substr on node_id 'type:value': exactly the dbt join on
-- 'type:' || value, without building a string per event). Population statistics (median
-- age, modal gender, revenue quantiles) come from one aggregate over the joined rows.
-- customer_rfm reads the customer_features just written plus completed orders per customer
-- and purchase day (one window for the purchase number and the gap to the previous day).

set TimeZone = 'UTC';

create or replace table customer_features as
with

customer_orders as (
    select
        record_keys.customer_key,
        orders.order_id,
        orders.channel,
        orders.status,
        orders.order_total_reporting,
        orders.discount_amount_reporting,
        orders.is_completed,
        cast(orders.order_ts as date) as order_date,
        orders.order_ts
    from wh.staging.stg_commerce__orders as orders
    inner join wh.intermediate.int_identity_record_keys as record_keys
        on record_keys.record_type = 'order' and orders.order_id = record_keys.record_id
    where record_keys.customer_key is not null
),

order_summary as (
    select
        customer_key,
        count(*) filter (where is_completed) as order_count,
        count(distinct order_date) filter (where is_completed) as purchase_days,
        coalesce(sum(order_total_reporting) filter (where is_completed), 0) as net_revenue,
        coalesce(sum(discount_amount_reporting) filter (where is_completed), 0) as discounts,
        min(order_ts) filter (where is_completed) as first_order_at,
        max(order_ts) filter (where is_completed) as last_order_at,
        count(*) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[1])
            as orders_w1,
        coalesce(sum(order_total_reporting) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[1]), 0)
            as revenue_w1,
        count(*) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[2])
            as orders_w2,
        coalesce(sum(order_total_reporting) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[2]), 0)
            as revenue_w2,
        count(*) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[3])
            as orders_w3,
        coalesce(sum(order_total_reporting) filter (where is_completed and order_date
            > getvariable('as_of_date') - getvariable('features__order_windows_days')[3]), 0)
            as revenue_w3,
        count(*) as all_orders,
        count(*) filter (where status = 'returned') as returned_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders
    from customer_orders
    group by customer_key
),

-- Most frequent channel of completed orders; ties go to the alphabetically first.
channel_preference as (
    select
        customer_key,
        arg_min(channel, struct_pack(n := -orders, channel := channel)) as preferred_channel
    from (
        select customer_key, channel, count(*) as orders
        from customer_orders
        where is_completed and channel is not null
        group by customer_key, channel
    )
    group by customer_key
),

-- Category with the most completed-order revenue; ties go to the alphabetically first.
category_summary as (
    select
        customer_key,
        count(*) as distinct_categories,
        arg_min(category, struct_pack(revenue := -category_revenue, category := category))
            as top_category
    from (
        select
            customer_orders.customer_key,
            coalesce(products.category, 'unknown') as category,
            sum(order_items.line_amount) as category_revenue
        from wh.staging.stg_commerce__order_items as order_items
        inner join customer_orders
            on order_items.order_id = customer_orders.order_id
        left join wh.staging.stg_commerce__products as products
            on order_items.product_id = products.product_id
        where customer_orders.is_completed
        group by all
    )
    group by customer_key
),

-- Identifier slices of the resolved nodes: node_id is 'type:value'.
customer_id_nodes as (
    select substr(node_id, 13) as identifier_value, customer_key
    from wh.intermediate.int_identity_resolved_nodes
    where starts_with(node_id, 'customer_id:')
),

email_nodes as (
    select substr(node_id, 7) as identifier_value, customer_key
    from wh.intermediate.int_identity_resolved_nodes
    where starts_with(node_id, 'email:')
),

cookie_nodes as (
    select substr(node_id, 14) as identifier_value, customer_key
    from wh.intermediate.int_identity_resolved_nodes
    where starts_with(node_id, 'anonymous_id:')
),

-- Web events to one row per (customer, session). An event belongs to the customer of its
-- customer_id, else of its email, else of its cookie; events without a session form one per
-- day. The identifiers are resolved once per (session, identifiers) group, not per event.
session_parts as (
    select
        coalesce(session_id, 'event-day:' || cast(event_ts as date)) as session_id,
        customer_id,
        email,
        anonymous_id,
        min(device_type) as device_type,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        min(event_ts) as session_started_at
    from wh.staging.stg_web__events
    group by all
),

web_sessions as (
    select
        coalesce(by_customer_id.customer_key, by_email.customer_key, by_cookie.customer_key)
            as customer_key,
        parts.session_id,
        min(parts.device_type) as device_type,
        sum(parts.product_views) as product_views,
        sum(parts.add_to_carts) as add_to_carts,
        sum(parts.purchases) as purchases,
        min(parts.session_started_at) as session_started_at
    from session_parts as parts
    left join customer_id_nodes as by_customer_id
        on parts.customer_id = by_customer_id.identifier_value
    left join email_nodes as by_email
        on parts.email = by_email.identifier_value
    left join cookie_nodes as by_cookie
        on parts.anonymous_id = by_cookie.identifier_value
    where coalesce(by_customer_id.customer_key, by_email.customer_key, by_cookie.customer_key)
        is not null
    group by all
),

web_summary as (
    select
        customer_key,
        count(*) filter (where cast(session_started_at as date)
            > getvariable('as_of_date') - getvariable('features__web_windows_days')[1])
            as sessions_w1,
        cast(coalesce(sum(product_views) filter (where cast(session_started_at as date)
            > getvariable('as_of_date') - getvariable('features__web_windows_days')[1]), 0)
            as bigint) as product_views_w1,
        count(*) filter (where cast(session_started_at as date)
            > getvariable('as_of_date') - getvariable('features__web_windows_days')[2])
            as sessions_w2,
        cast(coalesce(sum(product_views) filter (where cast(session_started_at as date)
            > getvariable('as_of_date') - getvariable('features__web_windows_days')[2]), 0)
            as bigint) as product_views_w2,
        cast(coalesce(sum(add_to_carts) filter (where cast(session_started_at as date)
            > getvariable('as_of_date') - 30), 0) as bigint) as add_to_carts_30d,
        count(*) filter (where add_to_carts > 0) as cart_sessions,
        count(*) filter (where add_to_carts > 0 and purchases = 0) as abandoned_cart_sessions,
        max(session_started_at) as last_visit_at,
        avg(case when device_type in ('mobile', 'tablet') then 1.0 else 0.0 end)
            as mobile_session_share
    from web_sessions
    group by customer_key
),

-- Campaign events attributed through the recipient's customer_id, else email; only the
-- events the four counts look at (email deliveries, opens, clicks; conversions on any channel).
-- Emails count once per campaign; an open or click proves delivery, a click proves an open.
campaign_touches as (
    select
        coalesce(by_customer_id.customer_key, by_email.customer_key) as customer_key,
        events.campaign_id,
        bool_or(events.channel = 'email' and events.event_type <> 'converted') as is_delivered,
        bool_or(events.channel = 'email' and events.event_type in ('opened', 'clicked'))
            as is_opened,
        bool_or(events.channel = 'email' and events.event_type = 'clicked') as is_clicked,
        count(*) filter (where events.event_type = 'converted') as conversions
    from wh.staging.stg_marketing__campaign_events as events
    left join customer_id_nodes as by_customer_id
        on events.customer_id = by_customer_id.identifier_value
    left join email_nodes as by_email
        on events.email = by_email.identifier_value
    where
        events.event_type = 'converted'
        or (events.channel = 'email' and events.event_type in ('delivered', 'opened', 'clicked'))
    group by all
),

campaign_summary as (
    select
        customer_key,
        count(*) filter (where is_delivered) as emails_delivered,
        count(*) filter (where is_opened) as emails_opened,
        count(*) filter (where is_clicked) as emails_clicked,
        cast(sum(conversions) as bigint) as campaign_conversions
    from campaign_touches
    group by customer_key
),

-- The golden record's birth date and gender, each from the most recently written CRM record
-- that has one; ties go to the more trusted source system, then the smaller customer_id.
crm_survivors as (
    select
        record_keys.customer_key,
        arg_min(crm.birth_date, struct_pack(
            updated := coalesce(-epoch_us(crm.updated_at), 9223372036854775807),
            priority := coalesce(priority.priority, 999999),
            customer_id := crm.customer_id
        )) filter (where crm.birth_date is not null) as birth_date,
        arg_min(crm.gender, struct_pack(
            updated := coalesce(-epoch_us(crm.updated_at), 9223372036854775807),
            priority := coalesce(priority.priority, 999999),
            customer_id := crm.customer_id
        )) filter (where crm.gender is not null) as gender
    from wh.staging.stg_crm__customers as crm
    inner join wh.intermediate.int_identity_record_keys as record_keys
        on record_keys.record_type = 'crm_customer' and crm.customer_id = record_keys.record_id
    left join wh.reference.source_system_priority as priority
        on crm.source_system = priority.source_system
    where record_keys.customer_key is not null
    group by record_keys.customer_key
),

-- The customers: every customer_key with a CRM record or an order (and a resolved node),
-- erased ones left out; first seen = the earliest sighting of any of their identifiers.
customer_list as (
    select
        customer_key,
        min(first_seen_at) as first_seen_at
    from wh.intermediate.int_identity_resolved_nodes
    where customer_key in (
        select customer_key
        from wh.intermediate.int_identity_record_keys
        where record_type in ('crm_customer', 'order')
    )
    and customer_key not in (
        select customer_key from wh.intermediate.int_identity_erased_customer_keys
    )
    group by customer_key
),

-- Consent per channel: the latest change recorded under any of the customer's customer_ids or
-- emails (ties: revoked wins); no record = segments__consent_default_granted.
consent_flags as (
    select
        customer_key,
        arg_min(is_granted, struct_pack(
            recorded := coalesce(-epoch_us(recorded_at), 9223372036854775807),
            granted := is_granted
        )) filter (where channel = 'email') as email_consent,
        arg_min(is_granted, struct_pack(
            recorded := coalesce(-epoch_us(recorded_at), 9223372036854775807),
            granted := is_granted
        )) filter (where channel = 'sms') as sms_consent,
        arg_min(is_granted, struct_pack(
            recorded := coalesce(-epoch_us(recorded_at), 9223372036854775807),
            granted := is_granted
        )) filter (where channel = 'ads') as ads_consent,
        arg_min(is_granted, struct_pack(
            recorded := coalesce(-epoch_us(recorded_at), 9223372036854775807),
            granted := is_granted
        )) filter (where channel = 'push') as push_consent
    from (
        select
            coalesce(by_customer_id.customer_key, by_email.customer_key) as customer_key,
            consents.channel,
            consents.is_granted,
            consents.recorded_at
        from wh.staging.stg_privacy__consents as consents
        left join customer_id_nodes as by_customer_id
            on consents.customer_id = by_customer_id.identifier_value
        left join email_nodes as by_email
            on consents.email = by_email.identifier_value
    )
    where customer_key is not null
    group by customer_key
),

joined as (
    select
        customers.customer_key,
        crm_survivors.gender as known_gender,
        coalesce(consent_flags.email_consent, getvariable('segments__consent_default_granted'))
            as has_email_consent,
        coalesce(consent_flags.sms_consent, getvariable('segments__consent_default_granted'))
            as has_sms_consent,
        coalesce(consent_flags.ads_consent, getvariable('segments__consent_default_granted'))
            as has_ads_consent,
        coalesce(consent_flags.push_consent, getvariable('segments__consent_default_granted'))
            as has_push_consent,
        customers.first_seen_at,
        case
            when date_sub('year', crm_survivors.birth_date, getvariable('as_of_date'))
                between getvariable('features__plausible_age_range')[1]
                and getvariable('features__plausible_age_range')[2]
                then cast(date_sub('year', crm_survivors.birth_date, getvariable('as_of_date'))
                    as integer)
        end as plausible_age,
        coalesce(order_summary.order_count, 0) as order_count,
        coalesce(order_summary.purchase_days, 0) as purchase_days,
        coalesce(order_summary.net_revenue, 0) as net_revenue,
        coalesce(order_summary.discounts, 0) as discounts,
        order_summary.first_order_at,
        order_summary.last_order_at,
        coalesce(order_summary.orders_w1, 0) as orders_w1,
        coalesce(order_summary.revenue_w1, 0) as revenue_w1,
        coalesce(order_summary.orders_w2, 0) as orders_w2,
        coalesce(order_summary.revenue_w2, 0) as revenue_w2,
        coalesce(order_summary.orders_w3, 0) as orders_w3,
        coalesce(order_summary.revenue_w3, 0) as revenue_w3,
        coalesce(order_summary.all_orders, 0) as all_orders,
        coalesce(order_summary.returned_orders, 0) as returned_orders,
        coalesce(order_summary.cancelled_orders, 0) as cancelled_orders,
        channel_preference.preferred_channel,
        coalesce(category_summary.distinct_categories, 0) as distinct_categories,
        category_summary.top_category,
        coalesce(web_summary.sessions_w1, 0) as sessions_w1,
        coalesce(web_summary.product_views_w1, 0) as product_views_w1,
        coalesce(web_summary.sessions_w2, 0) as sessions_w2,
        coalesce(web_summary.product_views_w2, 0) as product_views_w2,
        coalesce(web_summary.add_to_carts_30d, 0) as add_to_carts_30d,
        web_summary.cart_sessions,
        web_summary.abandoned_cart_sessions,
        web_summary.last_visit_at,
        web_summary.mobile_session_share,
        coalesce(campaign_summary.emails_delivered, 0) as emails_delivered,
        coalesce(campaign_summary.emails_opened, 0) as emails_opened,
        coalesce(campaign_summary.emails_clicked, 0) as emails_clicked,
        coalesce(campaign_summary.campaign_conversions, 0) as campaign_conversions
    from customer_list as customers
    left join crm_survivors on customers.customer_key = crm_survivors.customer_key
    left join consent_flags on customers.customer_key = consent_flags.customer_key
    left join order_summary on customers.customer_key = order_summary.customer_key
    left join channel_preference on customers.customer_key = channel_preference.customer_key
    left join category_summary on customers.customer_key = category_summary.customer_key
    left join web_summary on customers.customer_key = web_summary.customer_key
    left join campaign_summary on customers.customer_key = campaign_summary.customer_key
),

-- Population statistics for imputation and outlier handling (buyers only for money).
population as (
    select
        median(plausible_age) as median_age,
        (
            select arg_min(known_gender, struct_pack(n := -customers, gender := known_gender))
            from (
                select known_gender, count(*) as customers
                from joined
                where known_gender is not null
                group by known_gender
            )
        ) as mode_gender,
        quantile_cont(net_revenue, 0.25) filter (where order_count > 0) as revenue_q1,
        quantile_cont(net_revenue, 0.75) filter (where order_count > 0) as revenue_q3,
        avg(net_revenue) filter (where order_count > 0) as revenue_mean,
        stddev_pop(net_revenue) filter (where order_count > 0) as revenue_stddev,
        quantile_cont(net_revenue, getvariable('features__winsorize_quantiles')[1])
            filter (where order_count > 0) as revenue_floor,
        quantile_cont(net_revenue, getvariable('features__winsorize_quantiles')[2])
            filter (where order_count > 0) as revenue_ceiling
    from joined
)

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
    cast(date_diff('day', cast(joined.last_order_at as date), getvariable('as_of_date'))
        as integer) as recency_days,
    cast(date_diff('day', cast(joined.first_seen_at as date), getvariable('as_of_date'))
        as integer) as tenure_days,
    joined.orders_w1 as orders_30d,
    cast(joined.revenue_w1 as decimal(18, 2)) as revenue_30d,
    joined.orders_w2 as orders_90d,
    cast(joined.revenue_w2 as decimal(18, 2)) as revenue_90d,
    joined.orders_w3 as orders_365d,
    cast(joined.revenue_w3 as decimal(18, 2)) as revenue_365d,
    joined.distinct_categories,
    cast(joined.discounts as double)
    / nullif(joined.net_revenue + joined.discounts, 0) as discount_share,
    cast(joined.returned_orders as double) / nullif(joined.all_orders, 0) as return_rate,
    cast(joined.cancelled_orders as double) / nullif(joined.all_orders, 0) as cancel_rate,
    joined.sessions_w1 as sessions_7d,
    joined.product_views_w1 as product_views_7d,
    joined.sessions_w2 as sessions_30d,
    joined.product_views_w2 as product_views_30d,
    joined.add_to_carts_30d,
    cast(joined.abandoned_cart_sessions as double)
    / nullif(joined.cart_sessions, 0) as cart_abandonment_rate,
    cast(date_diff('day', cast(joined.last_visit_at as date), getvariable('as_of_date'))
        as integer) as days_since_last_visit,
    joined.mobile_session_share,
    joined.emails_delivered,
    cast(joined.emails_opened as double) / nullif(joined.emails_delivered, 0) as email_open_rate,
    cast(joined.emails_clicked as double) / nullif(joined.emails_delivered, 0)
        as email_click_rate,
    joined.campaign_conversions,
    least(
        greatest(cast(joined.net_revenue as double), population.revenue_floor),
        population.revenue_ceiling
    ) as net_revenue_winsorized,
    joined.order_count = 0 as is_prospect,
    joined.known_gender is null as is_gender_imputed,
    joined.plausible_age is null as is_age_imputed,
    joined.order_count > 0 and (
        joined.net_revenue
        > population.revenue_q3 + 1.5 * (population.revenue_q3 - population.revenue_q1)
        or joined.net_revenue
        < population.revenue_q1 - 1.5 * (population.revenue_q3 - population.revenue_q1)
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
    cast(getvariable('as_of_date') as date) as as_of_date
from joined
cross join population;


create or replace table customer_rfm as
with

-- Completed orders per customer and day.
purchase_days as (
    select
        record_keys.customer_key,
        cast(orders.order_ts as date) as purchase_date,
        sum(orders.order_total_reporting) as purchase_value
    from wh.staging.stg_commerce__orders as orders
    inner join wh.intermediate.int_identity_record_keys as record_keys
        on record_keys.record_type = 'order' and orders.order_id = record_keys.record_id
    where orders.is_completed and record_keys.customer_key is not null
    group by all
),

-- Numbered, with the gap to the previous purchase day.
purchase_sequence as (
    select
        customer_key,
        purchase_date,
        purchase_value,
        row_number() over purchases as purchase_number,
        purchase_date - lag(purchase_date) over purchases as days_since_previous_purchase
    from purchase_days
    window purchases as (partition by customer_key order by purchase_date)
),

purchase_summary as (
    select
        customer_key,
        count(*) - 1 as frequency,
        coalesce(avg(purchase_value) filter (where purchase_number > 1), 0) as monetary_clv,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        max(purchase_date) filter (
            where days_since_previous_purchase > getvariable('segments__lifecycle_churn_days')
        ) as reactivated_on
    from purchase_sequence
    group by customer_key
),

-- 1 + floor(5 x share of buyers strictly worse): rank() gives ties equal scores.
scores as (
    select
        customer_key,
        cast(1 + (5 * (rank() over (order by recency_days desc) - 1)) // count(*) over ()
            as integer) as r_score,
        cast(1 + (5 * (rank() over (order by purchase_days asc) - 1)) // count(*) over ()
            as integer) as f_score,
        cast(1 + (5 * (rank() over (order by net_revenue asc) - 1)) // count(*) over ()
            as integer) as m_score
    from customer_features
    where not is_prospect
)

select
    features.customer_key,
    cast(scores.r_score as varchar) || cast(scores.f_score as varchar)
    || cast(scores.m_score as varchar) as rfm_cell,
    case when features.is_prospect then 'Prospect' else segment_map.rfm_segment end
        as rfm_segment,
    case
        when purchases.customer_key is null then 'prospect'
        when date_diff('day', purchases.first_purchase_date, getvariable('as_of_date'))
            <= getvariable('segments__lifecycle_new_days') then 'new'
        when date_diff('day', purchases.reactivated_on, getvariable('as_of_date'))
            <= getvariable('segments__lifecycle_active_days') then 'reactivated'
        when date_diff('day', purchases.last_purchase_date, getvariable('as_of_date'))
            <= getvariable('segments__lifecycle_active_days') then 'active'
        when date_diff('day', purchases.last_purchase_date, getvariable('as_of_date'))
            <= getvariable('segments__lifecycle_churn_days') then 'lapsing'
        else 'churned'
    end as lifecycle_stage,
    scores.r_score,
    scores.f_score,
    scores.m_score,
    features.recency_days,
    features.purchase_days,
    features.net_revenue,
    cast(purchases.frequency as integer) as frequency,
    cast(purchases.last_purchase_date - purchases.first_purchase_date as integer)
        as recency_clv_days,
    cast(date_diff('day', purchases.first_purchase_date, getvariable('as_of_date')) as integer)
        as age_clv_days,
    cast(purchases.monetary_clv as double) as monetary_clv,
    purchases.first_purchase_date,
    purchases.last_purchase_date,
    cast(getvariable('as_of_date') as date) as as_of_date
from customer_features as features
left join scores on features.customer_key = scores.customer_key
left join purchase_summary as purchases on features.customer_key = purchases.customer_key
left join wh.reference.rfm_segment_map as segment_map
    on
        scores.r_score between segment_map.r_score_min and segment_map.r_score_max
        and scores.f_score between segment_map.f_score_min and segment_map.f_score_max;
