-- Customers who asked to be erased, through any of their identifiers: the customer_id or
-- email of the request is looked up as an identifier of the graph, and as an identifier
-- carried by any record (a guest order under that email erases the customer it resolved to).
-- Junk identifiers are not followed: a request naming test@example.com must not erase every
-- stranger who typed it; such requests are listed in the resolution report.

with

erasure_requests as (

    select * from {{ ref('stg_privacy__erasure_requests') }}

),

occurrences as (

    select * from {{ ref('int_identity_occurrences') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

record_keys as (

    select * from {{ ref('int_identity_record_keys') }}

),

requested_nodes as (

    select
        'customer_id:' || customer_id as node_id,
        requested_at
    from erasure_requests
    where customer_id is not null

    union all

    select
        'email:' || email as node_id,
        requested_at
    from erasure_requests
    where email is not null

),

followed_nodes as (

    select
        requested_nodes.node_id,
        requested_nodes.requested_at
    from requested_nodes
    inner join nodes
        on requested_nodes.node_id = nodes.node_id
    where nodes.guard_reason is distinct from 'junk_identifier'

),

erased_records as (

    select
        record_keys.customer_key,
        record_keys.customer_sk,
        followed_nodes.requested_at
    from followed_nodes
    inner join occurrences
        on followed_nodes.node_id = occurrences.node_id
    inner join record_keys
        on
            occurrences.record_type = record_keys.record_type
            and occurrences.record_id = record_keys.record_id
    where record_keys.customer_key is not null

),

final as (

    select
        customer_key,
        customer_sk,
        min(requested_at) as first_requested_at
    from erased_records
    group by customer_key, customer_sk

)

select * from final
