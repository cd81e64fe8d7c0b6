-- Every record of the identity graph with its customer_key, taken from its most trusted
-- linking identifier (lowest key_priority: customer_id, email, phone, loyalty_id, cookie).
-- A record whose identifiers all failed the guards (junk, shared) is unresolved: it belongs to
-- no one we can name, and is reported rather than guessed.

with

occurrences as (

    select * from {{ ref('int_identity_occurrences') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

record_candidates as (

    select
        occurrences.record_type,
        occurrences.record_id,
        resolved_nodes.customer_key,
        resolved_nodes.customer_sk,
        resolved_nodes.match_method,
        resolved_nodes.match_probability,
        row_number() over (
            partition by occurrences.record_type, occurrences.record_id
            order by resolved_nodes.customer_key is null, nodes.key_priority, occurrences.node_id
        ) as preference
    from occurrences
    inner join nodes
        on occurrences.node_id = nodes.node_id
    left join resolved_nodes
        on occurrences.node_id = resolved_nodes.node_id

),

final as (

    select
        record_type,
        record_id,
        customer_key,
        customer_sk,
        match_method,
        match_probability,
        case when customer_key is null then 'unresolved' else 'resolved' end as resolution_status
    from record_candidates
    where preference = 1

)

select * from final
