-- Consent changes recorded on or before as_of_date that passed every check.

with

consents as (

    select * from {{ ref('base_privacy__consents') }}
    where row_status = 'staged'

),

final as (

    select
        customer_id,
        email,
        is_email_valid,
        channel,
        status,
        is_granted,
        recorded_at
    from consents

)

select * from final
