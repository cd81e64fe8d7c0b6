-- One row per identifier seen in a record: the raw material of the identifier graph. A record
-- links the identifiers it carries together: a CRM row, an order, a web link (a cookie seen
-- with a customer_id or email: login, signup, checkout), a campaign recipient, a consent
-- subject. Only valid emails are identifiers. Web, campaign and consent rows repeat per event:
-- they are reduced to their distinct identifier combinations first (the same identifiers link
-- the same nodes, however often they are seen; at 1M customers 27.5M linking web events are
-- 3M web links). Web events that carry only a cookie link nothing; each cookie appears once
-- as a 'web_cookie' record so that every cookie is a node of the graph.

with

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

orders as (

    select * from {{ ref('stg_commerce__orders') }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

campaign_events as (

    select * from {{ ref('stg_marketing__campaign_events') }}

),

consents as (

    select * from {{ ref('stg_privacy__consents') }}

),

linking_web_events as (

    select
        anonymous_id,
        customer_id,
        event_ts,
        case when is_email_valid then email end as email
    from web_events
    where
        anonymous_id is not null
        and (customer_id is not null or is_email_valid)

),

web_links as (

    select
        {{ composite_record_id(['anonymous_id', 'customer_id', 'email']) }} as record_id,
        anonymous_id,
        customer_id,
        email,
        min(event_ts) as first_seen_at,
        max(event_ts) as last_seen_at
    from linking_web_events
    group by anonymous_id, customer_id, email

),

cookies as (

    select
        anonymous_id,
        min(event_ts) as first_seen_at
    from web_events
    where anonymous_id is not null
    group by anonymous_id

),

campaign_recipients as (

    select
        {{ composite_record_id(['customer_id', 'email']) }} as record_id,
        customer_id,
        email,
        min(event_ts) as first_seen_at
    from campaign_events
    where customer_id is not null and is_email_valid
    group by customer_id, email

),

consent_subjects as (

    select
        {{ composite_record_id(['customer_id', 'email']) }} as record_id,
        customer_id,
        email,
        min(recorded_at) as first_seen_at
    from consents
    where customer_id is not null and is_email_valid
    group by customer_id, email

),

unioned as (

    {{ identifier_occurrences('crm_customers', 'crm_customer', 'customer_id',
        'coalesce(created_at, updated_at)', [
            ['customer_id', 'customer_id'],
            ['email', 'case when is_email_valid then email end'],
            ['phone', 'phone'],
            ['loyalty_id', 'loyalty_id'],
        ]) }}

    union all

    {{ identifier_occurrences('orders', 'order', 'order_id', 'order_ts', [
            ['customer_id', 'customer_id'],
            ['email', 'case when is_email_valid then email end'],
            ['loyalty_id', 'loyalty_id'],
            ['anonymous_id', 'anonymous_id'],
        ]) }}

    union all

    {{ identifier_occurrences('web_links', 'web_link', 'record_id', 'first_seen_at', [
            ['anonymous_id', 'anonymous_id'],
            ['customer_id', 'customer_id'],
            ['email', 'email'],
        ], last_seen_at='last_seen_at') }}

    union all

    {{ identifier_occurrences('cookies', 'web_cookie', 'anonymous_id', 'first_seen_at', [
            ['anonymous_id', 'anonymous_id'],
        ]) }}

    union all

    {{ identifier_occurrences('campaign_recipients', 'campaign_recipient', 'record_id',
        'first_seen_at', [
            ['customer_id', 'customer_id'],
            ['email', 'email'],
        ]) }}

    union all

    {{ identifier_occurrences('consent_subjects', 'consent_subject', 'record_id',
        'first_seen_at', [
            ['customer_id', 'customer_id'],
            ['email', 'email'],
        ]) }}

),

final as (

    select
        record_type,
        record_id,
        identifier_type,
        identifier_value,
        seen_at,
        last_seen_at,
        identifier_type || ':' || identifier_value as node_id
    from unioned

)

select * from final
