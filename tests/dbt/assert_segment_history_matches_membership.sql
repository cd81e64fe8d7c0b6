-- The open spells of segment_membership_history are exactly the current segment_membership
-- (last seen on its as_of_date), and the spells of one customer in one segment never overlap.
-- Rows returned = disagreements.

with

segment_membership as (

    select * from {{ ref('segment_membership') }}

),

segment_membership_history as (

    select * from {{ ref('segment_membership_history') }}

),

open_spells as (

    select * from segment_membership_history
    where valid_to is null

),

mismatches as (

    select
        coalesce(segment_membership.customer_key, open_spells.customer_key) as customer_key,
        coalesce(segment_membership.segment_id, open_spells.segment_id) as segment_id,
        case
            when open_spells.customer_key is null then 'member without an open spell'
            when segment_membership.customer_key is null then 'open spell of a non-member'
            else 'open spell not seen on as_of_date'
        end as problem
    from segment_membership
    full outer join open_spells
        on
            segment_membership.customer_key = open_spells.customer_key
            and segment_membership.segment_id = open_spells.segment_id
    where
        segment_membership.customer_key is null
        or open_spells.customer_key is null
        or open_spells.last_seen_on <> segment_membership.as_of_date

),

overlapping_spells as (

    select
        customer_key,
        segment_id,
        'overlapping spells' as problem
    from (
        select
            customer_key,
            segment_id,
            valid_from,
            lag(valid_to) over (
                partition by customer_key, segment_id order by valid_from
            ) as previous_valid_to,
            lag(valid_from) over (
                partition by customer_key, segment_id order by valid_from
            ) as previous_valid_from
        from segment_membership_history
    ) as spells
    where
        previous_valid_from is not null
        and (previous_valid_to is null or previous_valid_to > valid_from)

),

final as (

    select * from mismatches
    union all
    select * from overlapping_spells

)

select * from final
