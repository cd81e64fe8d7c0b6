-- The first arm every experiment gave each customer, kept across runs and rebuilds: one row
-- per experiment and assignment unit. The unit is the identity node that defined the
-- customer's key when they were first assigned (int_identity_resolved_nodes.key_node_id), an
-- identifier, so it survives key changes: when two customers merge, both units now resolve to
-- the merged customer, and experiment_assignments keeps the earliest of their assignments.
-- A run appends rows only for members none of whose identifiers holds an assignment of the
-- experiment yet (drawn with experiment_assignment_unit on their current customer_key).
-- full_refresh=false: `dbt build --full-refresh` does not wipe the history of arms.

{{ config(
    materialized='incremental',
    unique_key=['experiment_id', 'unit_node_id'],
    full_refresh=false,
    on_schema_change='fail',
    schema='activation',
) }}

with

experiment_members as (

    select * from {{ ref('int_experiment_members') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

customer_units as (

    select distinct
        customer_key,
        key_node_id
    from resolved_nodes

),

members as (

    select
        experiment_members.experiment_id,
        experiment_members.assignment_salt,
        experiment_members.holdout_share,
        experiment_members.customer_key,
        customer_units.key_node_id,
        experiment_members.as_of_date
    from experiment_members
    inner join customer_units
        on experiment_members.customer_key = customer_units.customer_key

),

{% if is_incremental() %}

    previous_log as (

        select * from {{ this }}

    ),

    -- Customers one of whose identifiers already carries an assignment of the experiment.
    already_assigned as (

        select distinct
            previous_log.experiment_id,
            resolved_nodes.customer_key
        from previous_log
        inner join resolved_nodes
            on previous_log.unit_node_id = resolved_nodes.node_id

    ),

{% endif %}

new_members as (

    select members.*
    from members
    {% if is_incremental() %}
        left join already_assigned
            on
                members.experiment_id = already_assigned.experiment_id
                and members.customer_key = already_assigned.customer_key
        where already_assigned.customer_key is null
    {% endif %}

),

drawn as (

    select
        *,
        {{ experiment_assignment_unit('assignment_salt', 'customer_key') }} as assignment_unit
    from new_members

),

final as (

    select
        experiment_id,
        key_node_id as unit_node_id,
        customer_key as assigned_customer_key,
        assignment_unit,
        holdout_share,
        assignment_salt,
        as_of_date as assigned_on,
        case when assignment_unit < holdout_share then 'control' else 'treatment' end as arm
    from drawn

)

select * from final
