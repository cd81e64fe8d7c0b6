-- Current consent per customer and channel as of as_of_date: the latest consent change
-- recorded under any of the customer's customer_ids or emails wins (ties: revoked wins).
-- Channels with no record at all take the default (var segments__consent_default_granted).

with

consents as (

    select * from {{ ref('stg_privacy__consents') }}

),

-- Referenced more than once: not materialized, so DuckDB reads the table where it is used
-- (with only the columns each use needs) instead of first copying all of it.
resolved_nodes as {{ not_materialized() }} (

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
        on
            by_customer_id.identifier_type = 'customer_id'
            and consents.customer_id = by_customer_id.identifier_value
    left join resolved_nodes as by_email
        on
            by_email.identifier_type = 'email'
            and consents.email = by_email.identifier_value

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
