-- One row per customer with an email delivered, opened or clicked or a conversion: emails
-- delivered, opened and clicked, and conversions. Email engagement counts emails (one per
-- campaign), not events: an email opened twice is one open, and an open or a click proves
-- delivery even when the delivery receipt is missing (a quarantined row, a provider that
-- drops receipts), a click proves an open. So open and click rates stay within [0, 1].
-- Conversions are events, on any channel. Ephemeral: only customer_features reads it
-- (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

with

campaign_events as (

    select * from {{ ref('int_customer_campaign_events') }}

),

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

final as (

    select
        customer_sk,
        count(*) filter (where is_email_delivered) as emails_delivered,
        count(*) filter (where is_email_opened) as emails_opened,
        count(*) filter (where is_email_clicked) as emails_clicked,
        sum(conversions) as campaign_conversions
    from campaign_touches
    group by customer_sk

)

select * from final
