-- One row per active experiment (seed experiments) and current member of its segment, with
-- the arm from experiment_assignment_log: the customer's earliest assignment among every
-- assignment unit (identifier) that now resolves to them. A customer keeps their arm from run
-- to run, from segment exit to re-entry, and through merges: a merged customer keeps the
-- first arm any of its former customers had (ties: the unit that defines the current key).
-- assignment_source says whether the arm was drawn this run, kept, or inherited from another
-- customer_key (a merge); has_arm_conflict flags merged customers whose parts sat in both arms.

with

members as (

    select * from {{ ref('int_experiment_members') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

assignment_log as (

    select * from {{ ref('experiment_assignment_log') }}

),

member_units as (

    select
        members.experiment_id,
        members.customer_key,
        assignment_log.unit_node_id,
        assignment_log.assigned_customer_key,
        assignment_log.arm,
        assignment_log.assignment_unit,
        assignment_log.holdout_share,
        assignment_log.assignment_salt,
        assignment_log.assigned_on,
        row_number() over (
            partition by members.experiment_id, members.customer_key
            order by
                assignment_log.assigned_on asc,
                assignment_log.assigned_customer_key = members.customer_key desc,
                assignment_log.unit_node_id asc
        ) as assignment_rank,
        count(*) over (
            partition by members.experiment_id, members.customer_key
        ) as assignment_units,
        min(assignment_log.arm) over (
            partition by members.experiment_id, members.customer_key
        ) <> max(assignment_log.arm) over (
            partition by members.experiment_id, members.customer_key
        ) as has_arm_conflict
    from members
    inner join resolved_nodes
        on members.customer_key = resolved_nodes.customer_key
    inner join assignment_log
        on
            resolved_nodes.node_id = assignment_log.unit_node_id
            and members.experiment_id = assignment_log.experiment_id

),

final as (

    select
        members.experiment_id,
        members.customer_key,
        members.segment_id,
        member_units.arm,
        member_units.assignment_salt,
        members.segment_version,
        member_units.holdout_share,
        member_units.assignment_unit,
        member_units.assigned_on,
        member_units.assignment_units,
        member_units.has_arm_conflict,
        members.as_of_date,
        member_units.arm = 'control' as is_control,
        case
            when member_units.assigned_customer_key <> members.customer_key then 'inherited'
            when member_units.assigned_on = members.as_of_date then 'drawn'
            else 'kept'
        end as assignment_source,
        case
            when member_units.assigned_customer_key <> members.customer_key
                then member_units.assigned_customer_key
        end as inherited_from_customer_key
    from members
    inner join member_units
        on
            members.experiment_id = member_units.experiment_id
            and members.customer_key = member_units.customer_key
            and member_units.assignment_rank = 1

)

select * from final
