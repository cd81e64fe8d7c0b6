-- The customer_key each identifier had at the previous run, kept across runs (incremental):
-- how downstream history follows a customer whose key changed because two customers merged
-- (the newer key gives way to the older) or a component was split.
-- Protected from --full-refresh (full_refresh=false): a full rebuild compares the freshly
-- resolved keys with this stored state like any run, so customer_key_changes logs the
-- differences instead of forgetting the history. Identifiers no longer resolved (erased,
-- now guarded) are deleted by the post-hook, since a full refresh no longer sweeps them.
-- A deliberate reset: drop the table (docs/incremental.md, Full-refresh path).

{{ config(
    materialized='incremental',
    unique_key='node_id',
    on_schema_change='fail',
    full_refresh=false,
    post_hook="{{ identity_key_history_prune() }}",
) }}

with

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

{% if is_incremental() %}

    previous_state as (

        select * from {{ this }}

    ),

{% endif %}

final as (

    select
        resolved_nodes.node_id,
        resolved_nodes.customer_key,
        {% if is_incremental() %}
            case
                when previous_state.customer_key <> resolved_nodes.customer_key
                    then previous_state.customer_key
                else previous_state.previous_customer_key
            end as previous_customer_key,
            case
                when previous_state.customer_key <> resolved_nodes.customer_key
                    then {{ as_of_date_sql() }}
                else previous_state.key_changed_on
            end as key_changed_on,
            coalesce(previous_state.first_assigned_on, {{ as_of_date_sql() }}) as first_assigned_on
        {% else %}
            cast(null as {{ dbt.type_string() }}) as previous_customer_key,
            cast(null as date) as key_changed_on,
            {{ as_of_date_sql() }} as first_assigned_on
        {% endif %}
    from resolved_nodes
    {% if is_incremental() %}
        left join previous_state
            on resolved_nodes.node_id = previous_state.node_id
    {% endif %}

)

select * from final
