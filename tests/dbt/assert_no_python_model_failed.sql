-- The Python models whose run in this build hit an unexpected error (audit.model_runs status
-- 'failed'). An optional model (ML, campaign lift) that fails publishes an empty table so the
-- marts that do not need it still build; this test then fails the build (exit 1) with the
-- error in `reason`: an unexpected error is a bug to fix, not a degraded input, so the run
-- must not end green. A model that merely had too little to learn from is 'skipped' or
-- 'degraded' and passes here (audit.model_runs says why).

{{ config(severity='error') }}

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
