-- Where the history of a retired customer_key goes: one row per key that a merge retired
-- (customer_key_changes, change_type 'merge') and that no identifier holds today, with the
-- live key that carries on its customer. Chains are followed (a -> b on one run, b -> c on a
-- later one: a -> c). When a retired key's identifiers went to several keys, its successor is
-- the key that took the most of them (ties: the smallest key). Splits retire nothing: the old
-- key carries on, and the split-off identifiers start a new customer. Keys whose chain ends
-- at an erased customer, or at a key no identifier holds, are absent.
-- Read by segment_membership_history (spells move to the successor) and by anything else
-- kept per key (experiment assignments, exports).

with recursive

customer_key_changes as (

    select * from {{ ref('customer_key_changes') }}

),

resolved_nodes as (

    select * from {{ ref('int_identity_resolved_nodes') }}

),

erased_customer_keys as (

    select * from {{ ref('int_identity_erased_customer_keys') }}

),

live_keys as (

    select distinct customer_key from resolved_nodes

),

-- Each retired key's direct successor, from the latest merge that retired it.
next_keys as (

    select
        previous_customer_key,
        customer_key,
        changed_on
    from (
        select
            previous_customer_key,
            customer_key,
            changed_on,
            row_number() over (
                partition by previous_customer_key
                order by changed_on desc, moved_identifiers desc, customer_key asc
            ) as merge_rank
        from customer_key_changes
        where
            change_type = 'merge'
            and previous_customer_key not in (select live_keys.customer_key from live_keys)
    ) as ranked_merges
    where merge_rank = 1

),

-- Follows each retired key along next_keys; the depth bound stops a cycle of retired keys.
chains as (

    select
        previous_customer_key,
        customer_key,
        changed_on as retired_on,
        1 as hops
    from next_keys
    union all
    select
        chains.previous_customer_key,
        next_keys.customer_key,
        chains.retired_on,
        chains.hops + 1 as hops
    from chains
    inner join next_keys
        on chains.customer_key = next_keys.previous_customer_key
    where chains.hops < 100

),

final as (

    select
        chains.previous_customer_key,
        chains.customer_key,
        chains.retired_on,
        chains.hops
    from chains
    inner join live_keys
        on chains.customer_key = live_keys.customer_key
    where chains.customer_key not in (
        select erased_customer_keys.customer_key from erased_customer_keys
    )

)

select * from final
