-- Current consent per customer and channel as of as_of_date: the latest consent change
-- recorded under any of the customer's customer_ids or emails wins (ties: revoked wins).
-- Channels with no record at all take the default (var segments__consent_default_granted).

with

consents as (

    select * from {{ ref('stg_privacy__consents') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

consent_subjects as (

    select
        consents.channel,
        consents.is_granted,
        consents.recorded_at,
        coalesce(by_customer_id.customer_key, by_email.customer_key) as customer_key
    from consents
    left join resolved_nodes as by_customer_id
        on by_customer_id.node_id = 'customer_id:' || consents.customer_id
    left join resolved_nodes as by_email
        on by_email.node_id = 'email:' || consents.email

),

latest as (

    select
        customer_key,
        channel,
        is_granted,
        recorded_at,
        row_number() over (
            partition by customer_key, channel
            order by recorded_at desc, is_granted asc
        ) as recency
    from consent_subjects
    where customer_key is not null

),

final as (

    select
        customer_key,
        channel,
        is_granted,
        recorded_at
    from latest
    where recency = 1

)

select * from final
