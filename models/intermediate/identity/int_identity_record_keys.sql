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

identifier_rules as (

    select * from {{ ref('identifier_rules') }}

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
            order by resolved_nodes.customer_key is null, identifier_rules.key_priority, occurrences.node_id
        ) as preference
    from occurrences
    -- key_priority is a property of the identifier type: taken from the seed (five rows), not
    -- by joining the 18M occurrences to the 5M nodes on their text id
    left join identifier_rules
        on occurrences.identifier_type = identifier_rules.identifier_type
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
