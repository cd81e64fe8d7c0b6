-- One row per active experiment (seed experiments) and current member of its segment: the
-- arm is 'control' when experiment_assignment_unit(assignment_salt, customer_key) is below
-- holdout_share, else 'treatment'. The draw depends only on the salt and the customer_key,
-- so a customer keeps their arm from run to run (and from segment exit to re-entry), and two
-- experiments with different salts draw independently. A customer whose key changes (a merge
-- or split, marts.customer_key_changes) is drawn again under the new key.

with

experiments as (

    select * from {{ ref('experiments') }}
    where is_active

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

members as (

    select
        experiments.experiment_id,
        segment_membership.customer_key,
        experiments.segment_id,
        experiments.assignment_salt,
        segment_membership.segment_version,
        experiments.holdout_share,
        segment_membership.as_of_date
    from experiments
    inner join segment_membership
        on experiments.segment_id = segment_membership.segment_id
    where not experiments.primary_only or segment_membership.is_primary

),

drawn as (

    select
        *,
        {{ experiment_assignment_unit('assignment_salt', 'customer_key') }} as assignment_unit
    from members

),

assigned as (

    select
        *,
        case when assignment_unit < holdout_share then 'control' else 'treatment' end as arm,
        assignment_unit < holdout_share as is_control
    from drawn

),

final as (

    select
        experiment_id,
        customer_key,
        segment_id,
        arm,
        assignment_salt,
        segment_version,
        holdout_share,
        assignment_unit,
        is_control,
        as_of_date
    from assigned

)

select * from final
