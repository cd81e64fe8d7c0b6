-- What the over-merge guards did, for the people who tune them: every identifier that was not
-- allowed to link (junk list, shared by too many customers), every component cut by the size
-- cap, and erasure requests that named a junk identifier. Holds identifier values (PII):
-- schema `audit`.

with

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

erasure_requests as (

    select * from {{ ref('stg_privacy__erasure_requests') }}

),

guarded_identifiers as (

    select
        'identifier_guarded' as finding,
        guard_reason as reason,
        identifier_type,
        identifier_value,
        junk_reason as detail,
        linked_customer_ids as measure
    from nodes
    where guard_reason is not null

),

capped_components as (

    select
        'component_cut_by_cap' as finding,
        'component_over_cap' as reason,
        'component' as identifier_type,
        min(node_id) as identifier_value,
        'uncapped size ' || max(uncapped_component_size)
        || ', cap {{ var("identity__max_component_size") }}' as detail,
        max(uncapped_component_size) as measure
    from resolved_nodes
    where was_cut_by_cap
    group by customer_key

),

-- Each identifier named by an erasure request (equi-join below, no nested loop).
requested_identifiers as (

    select 'customer_id:' || customer_id as node_id
    from erasure_requests
    where customer_id is not null
    union all
    select 'email:' || email as node_id
    from erasure_requests
    where email is not null

),

junk_erasure_requests as (

    select
        'erasure_request_not_followed' as finding,
        'names_junk_identifier' as reason,
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.junk_reason as detail,
        cast(null as bigint) as measure
    from requested_identifiers
    inner join nodes
        on requested_identifiers.node_id = nodes.node_id
    where nodes.guard_reason = 'junk_identifier'

),

final as (

    select * from guarded_identifiers
    union all
    select * from capped_components
    union all
    select * from junk_erasure_requests

)

select * from final
