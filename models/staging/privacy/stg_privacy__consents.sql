-- Consent changes recorded on or before as_of_date that passed every check.

with

consents as (

    select * from {{ ref('base_privacy__consents') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from consents

)

select * from final
