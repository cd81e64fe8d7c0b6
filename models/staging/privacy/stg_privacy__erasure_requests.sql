-- Erasure requests naming a customer_id or an email, whatever their date.

with

erasure_requests as (

    select * from {{ ref('base_privacy__erasure_requests') }}
    where row_status = 'staged'

),

final as (

    select
        {{ documented_columns() }}
    from erasure_requests

)

select * from final
