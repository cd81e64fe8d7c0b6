-- Every linking identifier with its customer_key. The key is derived from the component's
-- earliest-seen identifier (then the lowest key_priority in seed identifier_rules, then the
-- node id): stable across reruns and as later data arrives, because later data cannot be
-- seen earlier. When two customers merge, the merged customer keeps the older key.
{%- set customer_key_sql = "'cus_' || left(md5(node_id), 16)" %}

with

components as (

    select * from {{ ref('int_identity_components') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

probabilistic_links as (

    select * from {{ ref('int_identity_probabilistic_links') }}

),

component_nodes as (

    select
        components.node_id,
        components.component_id,
        components.deterministic_component_id,
        components.uncapped_component_size,
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.key_priority,
        nodes.first_seen_at,
        nodes.last_seen_at,
        row_number() over (
            partition by components.component_id
            order by nodes.first_seen_at nulls last, nodes.key_priority, components.node_id
        ) as seniority,
        count(*) over (partition by components.component_id) as component_size
    from components
    inner join nodes
        on components.node_id = nodes.node_id

),

key_nodes as (

    select
        component_id,
        deterministic_component_id as key_deterministic_component_id,
        node_id as key_node_id,
        {{ customer_key_sql }} as customer_key,
        {{ customer_sk_from_key(customer_key_sql) }} as customer_sk
    from component_nodes
    where seniority = 1

),

-- Each end of every probabilistic link, so the join below is an equi-join (an IN over two
-- columns made DuckDB fall back to a nested loop: minutes at 1M customers).
link_endpoints as (

    select
        node_id_a as node_id,
        match_probability
    from probabilistic_links
    union all
    select
        node_id_b as node_id,
        match_probability
    from probabilistic_links

),

-- The strongest probabilistic link touching each deterministic part of a component.
part_link_probabilities as (

    select
        component_nodes.deterministic_component_id,
        max(link_endpoints.match_probability) as match_probability
    from component_nodes
    inner join link_endpoints
        on component_nodes.node_id = link_endpoints.node_id
    group by component_nodes.deterministic_component_id

),

final as (

    select
        component_nodes.node_id,
        component_nodes.identifier_type,
        component_nodes.identifier_value,
        key_nodes.customer_key,
        key_nodes.customer_sk,
        key_nodes.key_node_id,
        component_nodes.component_size,
        component_nodes.uncapped_component_size,
        component_nodes.first_seen_at,
        component_nodes.last_seen_at,
        case
            when component_nodes.deterministic_component_id = key_nodes.key_deterministic_component_id
                then 'deterministic'
            else 'probabilistic'
        end as match_method,
        case
            when component_nodes.deterministic_component_id = key_nodes.key_deterministic_component_id
                then 1.0
            else coalesce(part_link_probabilities.match_probability, 0.0)
        end as match_probability,
        component_nodes.uncapped_component_size > component_nodes.component_size as was_cut_by_cap
    from component_nodes
    inner join key_nodes
        on component_nodes.component_id = key_nodes.component_id
    left join part_link_probabilities
        on component_nodes.deterministic_component_id = part_link_probabilities.deterministic_component_id

)

select * from final
