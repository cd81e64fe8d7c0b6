-- One row per identifier (node of the identity graph): when it was first and last seen, in how
-- many occurrences, and its fan-out, the distinct CRM customer_ids it was seen with (for a
-- customer_id, the distinct emails). int_identity_nodes applies the guards to these counts.
-- Ephemeral: only int_identity_nodes reads it, and inlined it keeps the single scan plan
-- over int_identity_occurrences (DECISIONLOG: thin hub marts).

{{ config(materialized='ephemeral') }}

with

-- Not materialised: read three times, each read only needs some of the columns (and fan-out
-- only the customer_id / email rows); writing all 21M rows to a temporary CTE cost more.
occurrences as {{ not_materialized() }} (

    select * from {{ ref('int_identity_occurrences') }}

),

nodes as (

    select
        node_id,
        identifier_type,
        identifier_value,
        min(seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as occurrence_count
    from occurrences
    group by node_id, identifier_type, identifier_value

),

-- The identifier a fan-out is counted in: customer_ids for every type, emails for customer_id.
fan_out_anchors as (

    select
        record_type,
        record_id,
        identifier_type,
        identifier_value
    from occurrences
    where identifier_type in ('customer_id', 'email')

),

fan_out as (

    select
        occurrences.node_id,
        count(distinct fan_out_anchors.identifier_value) as linked_customer_ids
    from occurrences
    inner join fan_out_anchors
        on
            occurrences.record_type = fan_out_anchors.record_type
            and occurrences.record_id = fan_out_anchors.record_id
            and fan_out_anchors.identifier_type = case
                when occurrences.identifier_type = 'customer_id' then 'email'
                else 'customer_id'
            end
    group by occurrences.node_id

),

final as (

    select
        nodes.node_id,
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.occurrence_count,
        coalesce(fan_out.linked_customer_ids, 0) as linked_customer_ids
    from nodes
    left join fan_out
        on nodes.node_id = fan_out.node_id

)

select * from final
