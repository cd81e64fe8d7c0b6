-- One row per experiment and customer ever assigned to it (experiment_assignment_log, each
-- unit resolved to its current customer; a merged customer keeps its earliest arm, as in
-- experiment_assignments) with what they did in the warehouse after assignment: completed
-- orders (int_customer_orders) dated after assigned_on and no later than the end of the
-- outcome window, assigned_on + var experiments__outcome_window_days, capped at as_of_date.
-- Intention to treat: a member counts in their arm whether or not an export reached them and
-- whether or not they are still in the segment (a win-back customer who buys leaves the
-- segment: measuring current members only would drop exactly the converters). A member
-- assigned this run has observed_days = 0 and waits for a later run. Erased customers are absent.

{%- set window_days = var('experiments__outcome_window_days') %}

with

experiments as (

    select * from {{ ref('experiments') }}

),

assignment_log as (

    select * from {{ ref('experiment_assignment_log') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

orders as (

    select * from {{ ref('int_customer_orders') }}
    where is_completed

),

ranked_units as (

    select
        assignment_log.experiment_id,
        resolved_nodes.customer_key,
        resolved_nodes.customer_sk,
        assignment_log.arm,
        assignment_log.assigned_on,
        row_number() over (
            partition by assignment_log.experiment_id, resolved_nodes.customer_key
            order by
                assignment_log.assigned_on asc,
                assignment_log.assigned_customer_key = resolved_nodes.customer_key desc,
                assignment_log.unit_node_id asc
        ) as assignment_rank
    from assignment_log
    inner join resolved_nodes
        on assignment_log.unit_node_id = resolved_nodes.node_id
    where resolved_nodes.customer_key not in (
        select erased_customer_keys.customer_key from erased_customer_keys
    )

),

assignments as (

    select
        ranked_units.experiment_id,
        ranked_units.customer_key,
        ranked_units.customer_sk,
        experiments.segment_id,
        ranked_units.arm,
        ranked_units.assigned_on,
        run_context.as_of_date
    from ranked_units
    inner join experiments
        on ranked_units.experiment_id = experiments.experiment_id
    cross join run_context
    where ranked_units.assignment_rank = 1

),

members as (

    select
        assignments.experiment_id,
        assignments.customer_key,
        assignments.customer_sk,
        assignments.segment_id,
        assignments.arm,
        assignments.assigned_on,
        assignments.as_of_date,
        least(
            assignments.assigned_on + {{ window_days }},
            assignments.as_of_date
        ) as window_ends_on
    from assignments

),

outcomes as (

    select
        members.experiment_id,
        members.customer_key,
        count(*) as orders,
        sum(orders.order_total_reporting) as revenue
    from members
    inner join orders
        on
            members.customer_sk = orders.customer_sk
            and members.assigned_on < orders.order_date
            and members.window_ends_on >= orders.order_date
    group by members.experiment_id, members.customer_key

),

final as (

    select
        members.experiment_id,
        members.customer_key,
        members.segment_id,
        members.arm,
        members.assigned_on,
        members.window_ends_on,
        members.as_of_date,
        cast(members.window_ends_on - members.assigned_on as integer) as observed_days,
        coalesce(outcomes.orders, 0) as orders,
        cast(coalesce(outcomes.revenue, 0) as decimal(18, 2)) as revenue,
        coalesce(outcomes.orders, 0) > 0 as is_converted,
        members.assigned_on + {{ window_days }} <= members.as_of_date as is_window_complete
    from members
    left join outcomes
        on
            members.experiment_id = outcomes.experiment_id
            and members.customer_key = outcomes.customer_key

)

select * from final
