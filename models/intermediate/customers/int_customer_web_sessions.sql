-- Web sessions attributed to customers: an event belongs to the customer of its customer_id,
-- else of its email, else of its cookie (identity map). One row per (session, customer):
-- device, start, and what happened in it. Sessions of visitors who never became customers and
-- of erased customers are left out.
-- Incremental (docs/incremental.md, "Customer intermediates"): a run recomputes the sessions of
-- the customers it touched (macro customer_web_sessions_touched) from their events only.
-- depends_on: {{ ref('stg_web__event_batches') }}

{{ config(**customer_incremental_config(
    'customer_web_sessions_touched', 'customer_web_sessions_identity_map'
)) }}

with

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
resolved_nodes as {{ not_materialized() }} (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

-- The events of the customers this run touched (all on a full build): their sessions are
-- complete from these.
{{ customer_touched_source('events', 'stg_web__events', customer_web_sessions_identifier_columns()) }},

customer_keys as (

    {{ customer_web_sessions_eligible() }}

),

-- Events first collapse to one row per (session, identifiers): a session's events mostly
-- carry the same ids, so the three identifier look-ups below run once per group instead of
-- once per event (50M events at 1M customers). Counts and minimums add up exactly.
session_parts as (

    select
        customer_id,
        email,
        anonymous_id,
        coalesce(session_id, 'event-day:' || cast(event_ts as date)) as session_id,
        min(device_type) as device_type,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        min(event_ts) as session_started_at
    from events
    group by
        customer_id,
        email,
        anonymous_id,
        coalesce(session_id, 'event-day:' || cast(event_ts as date))

),

-- Look-ups join on (identifier_type, identifier_value), not on node_id = 'type:' || value:
-- building that string for every row made this model 60% slower at 1M customers.
attributed_parts as (

    select
        session_parts.*,
        coalesce(
            by_customer_id.customer_sk, by_email.customer_sk, by_cookie.customer_sk
        ) as customer_sk
    from session_parts
    left join resolved_nodes as by_customer_id
        on
            by_customer_id.identifier_type = 'customer_id'
            and session_parts.customer_id = by_customer_id.identifier_value
    left join resolved_nodes as by_email
        on
            by_email.identifier_type = 'email'
            and session_parts.email = by_email.identifier_value
    left join resolved_nodes as by_cookie
        on
            by_cookie.identifier_type = 'anonymous_id'
            and session_parts.anonymous_id = by_cookie.identifier_value

),

-- Sessions are summed per customer first, then kept for current (non-erased) customers:
-- the filter then joins ~8M session rows instead of ~15M session parts.
customer_sessions as (

    select
        customer_sk,
        session_id,
        cast(sum(product_views) as bigint) as product_views,
        cast(sum(add_to_carts) as bigint) as add_to_carts,
        cast(sum(purchases) as bigint) as purchases,
        min(device_type) as device_type,
        min(session_started_at) as session_started_at
    from attributed_parts
    where customer_sk is not null and {{ customer_incremental_touched_filter('customer_sk') }}
    group by
        customer_sk,
        session_id

),

final as (

    select customer_sessions.*
    from customer_sessions
    inner join customer_keys
        on customer_sessions.customer_sk = customer_keys.customer_sk

)

select * from final
