-- The Python models whose run in this build hit an unexpected error (audit.model_runs status
-- 'failed'). An optional model (ML, campaign lift) that fails publishes an empty table so the
-- marts that do not need it still build; this test makes the failure visible in the build's
-- summary as a warning, with the error in `reason`, rather than a build failure.

{{ config(severity='warn') }}

with

model_runs as (

    select * from {{ ref('model_runs') }}
    where is_current_invocation

),

final as (

    select
        model_name,
        reason
    from model_runs
    where status = 'failed'

)

select * from final
