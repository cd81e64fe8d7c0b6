-- One row per active experiment (seed experiments) and current member of its segment
-- (segment_membership; only the primary memberships for an experiment with primary_only):
-- who an experiment covers today. experiment_assignment_log draws arms for them,
-- experiment_assignments gives them their arm. Ephemeral: read only by those two.

{{ config(materialized='ephemeral') }}

with

experiments as (

    select * from {{ ref('experiments') }}
    where is_active

),

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

final as (

    select
        experiments.experiment_id,
        experiments.segment_id,
        experiments.assignment_salt,
        experiments.holdout_share,
        segment_membership.customer_key,
        segment_membership.segment_version,
        segment_membership.as_of_date
    from experiments
    inner join segment_membership
        on experiments.segment_id = segment_membership.segment_id
    where not experiments.primary_only or segment_membership.is_primary

)

select * from final
