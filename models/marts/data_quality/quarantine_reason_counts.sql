-- Quarantined rows per source and reason code: audit.quarantined_rows without the raw values,
-- so it can be published with the serving file (no PII). `segwarehouse refresh` compares it
-- with the last published run's and prints the reasons that grew, so an upstream format
-- change is seen the day it happens.

with

quarantined as (

    select
        source_name,
        quarantine_reason
    from {{ ref('quarantined_rows') }}

),

final as (

    select
        source_name,
        quarantine_reason,
        count(*) as quarantined_rows,
        {{ as_of_date_sql() }} as as_of_date
    from quarantined
    group by source_name, quarantine_reason

)

select * from final
