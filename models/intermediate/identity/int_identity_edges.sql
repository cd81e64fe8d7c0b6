-- Deterministic edges of the identity graph: two identifiers carried by one record belong to
-- one person. Each record links its identifiers as a star around its smallest node id (the
-- same components as linking every pair, with fewer edges). Only nodes that passed the guards
-- (int_identity_nodes.forms_edges) link.

with

occurrences as (

    select * from {{ ref('int_identity_occurrences') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

linking_occurrences as (

    select
        occurrences.record_type,
        occurrences.record_id,
        occurrences.node_id
    from occurrences
    inner join nodes
        on occurrences.node_id = nodes.node_id
    where nodes.forms_edges

),

-- The anchor (smallest node) of each record with two or more distinct nodes, in one aggregate:
-- min(node_id) <> max(node_id) is the same test as count(distinct node_id) > 1, without the
-- distinct, which made DuckDB group the 21M occurrences twice more and join the two
-- aggregates back together (most of this model's time).
record_anchors as (

    select
        record_type,
        record_id,
        min(node_id) as anchor_node_id
    from linking_occurrences
    group by record_type, record_id
    having min(node_id) <> max(node_id)

),

record_edges as (

    select
        record_anchors.anchor_node_id as node_id_a,
        linking_occurrences.node_id as node_id_b,
        linking_occurrences.record_type
    from record_anchors
    inner join linking_occurrences
        on
            record_anchors.record_type = linking_occurrences.record_type
            and record_anchors.record_id = linking_occurrences.record_id
    where linking_occurrences.node_id <> record_anchors.anchor_node_id

),

final as (

    select
        node_id_a,
        node_id_b,
        'deterministic' as match_method,
        cast(1.0 as double) as match_probability,
        min(record_type) as first_record_type,
        count(*) as supporting_records
    from record_edges
    group by node_id_a, node_id_b

)

select * from final
