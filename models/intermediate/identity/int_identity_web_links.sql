-- Incremental (docs/incremental.md): each cookie with its summary row and its web links (the
-- distinct customer_id / valid email combinations it was seen with), from the staged web
-- events. int_identity_occurrences reads this instead of every web event. A run recomputes
-- only the cookies with a base_web__events row (re)classified since this table's last run
-- (a row's batch_run_started_at is the base run it reflects) and replaces them
-- (delete+insert on anonymous_id). Every cookie of base_web__events has its summary row,
-- even when none of its events is staged, so a cookie that loses its last staged event is
-- still replaced, never left behind; a --full-refresh gives the same rows.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='anonymous_id',
    on_schema_change='fail',
) }}

with

events as not materialized (

    select * from {{ ref('base_web__events') }}

),

{% if is_incremental() %}

    touched_cookies as (

        select distinct anonymous_id
        from events
        where
            anonymous_id is not null
            and batch_run_started_at > (select max(t.batch_run_started_at) from {{ this }} as t)

    ),

{% endif %}

cookie_events as (

    select
        anonymous_id,
        customer_id,
        event_ts,
        row_status = 'staged' as is_staged,
        case when is_email_valid then email end as email
    from events
    where
        anonymous_id is not null
    {% if is_incremental() %}
        and anonymous_id in (select t.anonymous_id from touched_cookies as t)
    {% endif %}

),

cookie_summaries as (

    select
        anonymous_id,
        'cookie' as row_kind,
        cast(null as varchar) as customer_id,
        cast(null as varchar) as email,
        min(event_ts) filter (where is_staged) as first_seen_at,
        max(event_ts) filter (where is_staged) as last_seen_at,
        count(*) filter (where is_staged) as staged_events
    from cookie_events
    group by anonymous_id

),

links as (

    select
        anonymous_id,
        'link' as row_kind,
        customer_id,
        email,
        min(event_ts) as first_seen_at,
        max(event_ts) as last_seen_at,
        count(*) as staged_events
    from cookie_events
    where is_staged and (customer_id is not null or email is not null)
    group by anonymous_id, customer_id, email

),

unioned as (

    select * from cookie_summaries
    union all
    select * from links

),

final as (

    select
        anonymous_id,
        row_kind,
        customer_id,
        email,
        first_seen_at,
        last_seen_at,
        staged_events,
        (select max(e.batch_run_started_at) from events as e) as batch_run_started_at
    from unioned

)

select * from final
