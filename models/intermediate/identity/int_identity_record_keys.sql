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

-- What each node offers a record: its key (if it resolved) and its rank as a key source. Joined
-- once here, on the 1.5M nodes, so the 21M occurrences meet a single hash table.
node_offers as (

    select
        nodes.node_id,
        resolved_nodes.customer_key,
        resolved_nodes.match_method,
        resolved_nodes.match_probability,
        nodes.key_priority
    from nodes
    left join resolved_nodes
        on nodes.node_id = resolved_nodes.node_id

),

-- The preferred node of each record by one aggregate (arg_min over a struct ordered as the rule
-- reads: resolved first, then key_priority with nulls last, then node_id), not a row_number()
-- window: a window sorts 21M rows into 11M partitions of one or two rows, which cost most of
-- this model's time. Struct comparison puts a null key_priority after any value, as the
-- window's ORDER BY did, and node_id makes the order total.
record_candidates as (

    select
        occurrences.record_type,
        occurrences.record_id,
        arg_min(
            {
                'customer_key': node_offers.customer_key,
                'match_method': node_offers.match_method,
                'match_probability': node_offers.match_probability
            },
            {
                'is_unresolved': node_offers.customer_key is null,
                'key_priority': node_offers.key_priority,
                'node_id': occurrences.node_id
            }
        ) as preferred
    from occurrences
    inner join node_offers
        on occurrences.node_id = node_offers.node_id
    group by occurrences.record_type, occurrences.record_id

),

record_preferences as (

    select
        record_type,
        record_id,
        struct_extract(preferred, 'customer_key') as customer_key,
        struct_extract(preferred, 'match_method') as match_method,
        struct_extract(preferred, 'match_probability') as match_probability
    from record_candidates

),

final as (

    select
        record_type,
        record_id,
        customer_key,
        match_method,
        match_probability,
        case when customer_key is null then 'unresolved' else 'resolved' end as resolution_status
    from record_preferences

)

select * from final
