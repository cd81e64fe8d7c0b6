-- Nobody in an experiment's holdout and nobody who asked to be erased is exported: every row
-- of audience_exports must be in the treatment arm of its audience's experiment (from the
-- seed audience_definitions) and absent from int_identity_erased_customer_keys.
-- Rows returned = exported customers who should not be.

with

audience_exports as (

    select * from {{ ref('audience_exports') }}

),

audience_definitions as (

    select * from {{ ref('audience_definitions') }}

),

experiment_assignments as (

    select * from {{ ref('experiment_assignments') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

)

select
    audience_exports.audience_id,
    audience_exports.customer_key,
    experiment_assignments.arm,
    erased_customer_keys.customer_key is not null as is_erased
from audience_exports
left join audience_definitions
    on audience_exports.audience_id = audience_definitions.audience_id
left join experiment_assignments
    on
        audience_definitions.experiment_id = experiment_assignments.experiment_id
        and audience_exports.customer_key = experiment_assignments.customer_key
left join erased_customer_keys
    on audience_exports.customer_key = erased_customer_keys.customer_key
where
    experiment_assignments.arm is distinct from 'treatment'
    or erased_customer_keys.customer_key is not null
