-- Hand-written floor for the deterministic identity layer (issue #8): the same two tables as
-- dbt's int_identity_resolved_nodes and int_identity_record_keys (every column, same
-- definitions), computed as one DuckDB script with temporary tables and no dbt, for timing
-- models/intermediate/identity/int_identity_{occurrences,nodes,edges,resolved_nodes,
-- record_keys} and python_models/intermediate/identity/int_identity_components against.
-- benchmarks/identity_baseline.py runs it, times it and checks it equals dbt's tables.
--
-- Inputs, read from a built dbt warehouse attached READ_ONLY as `wh` (the inputs of the dbt
-- layer, never its outputs):
--   wh.staging.stg_crm__customers, stg_commerce__orders, stg_web__events,
--     stg_marketing__campaign_events, stg_privacy__consents
--   wh.reference.junk_identifiers, wh.reference.identifier_rules (seeds)
--   wh.intermediate.int_identity_probabilistic_links: Splink's links (a Python model on both
--     sides' input, not part of the comparison: its 1M figures are in docs/benchmarks.md)
--
-- Two parts, split at the components marker line below: the runner executes the first, then
-- labels the components in scipy with segwarehouse.identity.components (the function the dbt
-- model calls: the floor is the same algorithm without dbt), writes them to table
-- `components`, then executes the second part. The runner also replaces the placeholder
-- comment in `guarded` with one CASE over the identifier types of seed junk_identifiers, each
-- with its alternation as a literal (a regex taken from a column is compiled on every row).

-- A part of a composite record id (macro composite_record_id): '\' and '|' escaped, null empty.
create or replace temp macro id_part(part) as coalesce(replace(replace(part, '\', '\\'), '|', '\|'), '');

-- Occurrences: one row per (record, identifier). Web events are reduced to distinct
-- (cookie, customer_id, valid email) links, campaign and consent rows to distinct
-- (customer_id, email) pairs; every cookie is a record of its own.
create or replace temp table occurrences as
with
web as (
    select
        anonymous_id,
        customer_id,
        case when is_email_valid then email end as email,
        event_ts
    from wh.staging.stg_web__events
    where anonymous_id is not null
),

web_links as (
    select
        id_part(anonymous_id) || '|' || id_part(customer_id) || '|' || id_part(email) as record_id,
        anonymous_id,
        customer_id,
        email,
        min(event_ts) as first_seen_at,
        max(event_ts) as last_seen_at
    from web
    where customer_id is not null or email is not null
    group by anonymous_id, customer_id, email
),

cookies as (
    select anonymous_id, min(event_ts) as first_seen_at
    from web
    group by anonymous_id
),

crm as (
    select
        customer_id,
        case when is_email_valid then email end as email,
        phone,
        loyalty_id,
        coalesce(created_at, updated_at) as seen_at
    from wh.staging.stg_crm__customers
),

orders as (
    select
        order_id,
        customer_id,
        case when is_email_valid then email end as email,
        loyalty_id,
        anonymous_id,
        order_ts
    from wh.staging.stg_commerce__orders
),

recipients as (
    select
        id_part(customer_id) || '|' || id_part(email) as record_id,
        customer_id,
        email,
        min(event_ts) as first_seen_at
    from wh.staging.stg_marketing__campaign_events
    where customer_id is not null and is_email_valid
    group by customer_id, email
),

subjects as (
    select
        id_part(customer_id) || '|' || id_part(email) as record_id,
        customer_id,
        email,
        min(recorded_at) as first_seen_at
    from wh.staging.stg_privacy__consents
    where customer_id is not null and is_email_valid
    group by customer_id, email
),

-- One branch per (record type, identifier), nulls skipped (as dbt's identifier_occurrences).
unpivoted as (
    select 'crm_customer' as record_type, customer_id as record_id, 'customer_id' as identifier_type,
        customer_id as identifier_value, seen_at as seen_at, seen_at as last_seen_at
    from crm where customer_id is not null
    union all
    select 'crm_customer' as record_type, customer_id as record_id, 'email' as identifier_type,
        email as identifier_value, seen_at as seen_at, seen_at as last_seen_at
    from crm where email is not null
    union all
    select 'crm_customer' as record_type, customer_id as record_id, 'phone' as identifier_type,
        phone as identifier_value, seen_at as seen_at, seen_at as last_seen_at
    from crm where phone is not null
    union all
    select 'crm_customer' as record_type, customer_id as record_id, 'loyalty_id' as identifier_type,
        loyalty_id as identifier_value, seen_at as seen_at, seen_at as last_seen_at
    from crm where loyalty_id is not null
    union all
    select 'order' as record_type, order_id as record_id, 'customer_id' as identifier_type,
        customer_id as identifier_value, order_ts as seen_at, order_ts as last_seen_at
    from orders where customer_id is not null
    union all
    select 'order' as record_type, order_id as record_id, 'email' as identifier_type,
        email as identifier_value, order_ts as seen_at, order_ts as last_seen_at
    from orders where email is not null
    union all
    select 'order' as record_type, order_id as record_id, 'loyalty_id' as identifier_type,
        loyalty_id as identifier_value, order_ts as seen_at, order_ts as last_seen_at
    from orders where loyalty_id is not null
    union all
    select 'order' as record_type, order_id as record_id, 'anonymous_id' as identifier_type,
        anonymous_id as identifier_value, order_ts as seen_at, order_ts as last_seen_at
    from orders where anonymous_id is not null
    union all
    select 'web_link' as record_type, record_id, 'anonymous_id' as identifier_type,
        anonymous_id as identifier_value, first_seen_at as seen_at, last_seen_at as last_seen_at
    from web_links where anonymous_id is not null
    union all
    select 'web_link' as record_type, record_id, 'customer_id' as identifier_type,
        customer_id as identifier_value, first_seen_at as seen_at, last_seen_at as last_seen_at
    from web_links where customer_id is not null
    union all
    select 'web_link' as record_type, record_id, 'email' as identifier_type,
        email as identifier_value, first_seen_at as seen_at, last_seen_at as last_seen_at
    from web_links where email is not null
    union all
    select 'web_cookie' as record_type, anonymous_id as record_id, 'anonymous_id' as identifier_type,
        anonymous_id as identifier_value, first_seen_at as seen_at, first_seen_at as last_seen_at
    from cookies where anonymous_id is not null
    union all
    select 'campaign_recipient' as record_type, record_id, 'customer_id' as identifier_type,
        customer_id as identifier_value, first_seen_at as seen_at, first_seen_at as last_seen_at
    from recipients where customer_id is not null
    union all
    select 'campaign_recipient' as record_type, record_id, 'email' as identifier_type,
        email as identifier_value, first_seen_at as seen_at, first_seen_at as last_seen_at
    from recipients where email is not null
    union all
    select 'consent_subject' as record_type, record_id, 'customer_id' as identifier_type,
        customer_id as identifier_value, first_seen_at as seen_at, first_seen_at as last_seen_at
    from subjects where customer_id is not null
    union all
    select 'consent_subject' as record_type, record_id, 'email' as identifier_type,
        email as identifier_value, first_seen_at as seen_at, first_seen_at as last_seen_at
    from subjects where email is not null
)

select
    record_type,
    record_id,
    identifier_type,
    identifier_value,
    seen_at,
    last_seen_at,
    identifier_type || ':' || identifier_value as node_id
from unpivoted;

-- Nodes with the guards: type rules, junk list (exact, then patterns), fan-out.
create or replace temp table nodes as
with
anchors as (
    select record_type, record_id, identifier_type, identifier_value
    from occurrences
    where identifier_type in ('customer_id', 'email')
),

fan_out as (
    select o.node_id, count(distinct a.identifier_value) as linked_customer_ids
    from occurrences as o
    inner join anchors as a
        on o.record_type = a.record_type
        and o.record_id = a.record_id
        and a.identifier_type
            = case when o.identifier_type = 'customer_id' then 'email' else 'customer_id' end
    group by o.node_id
),

grouped as (
    select
        node_id,
        any_value(identifier_type) as identifier_type,
        any_value(identifier_value) as identifier_value,
        min(seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from occurrences
    group by node_id
),

exact_junk as (
    select identifier_type, pattern as identifier_value, min(reason) as reason
    from wh.reference.junk_identifiers
    where match_type = 'exact'
    group by identifier_type, pattern
),

guarded as (
    select
        g.*,
        r.key_priority,
        r.max_linked_customer_ids,
        coalesce(r.forms_edges, false) as type_forms_edges,
        e.reason as exact_junk_reason,
        coalesce(f.linked_customer_ids, 0) as linked_customer_ids,
        coalesce(/* junk pattern case */, false) as matches_junk_pattern
    from grouped as g
    left join fan_out as f on g.node_id = f.node_id
    left join wh.reference.identifier_rules as r on g.identifier_type = r.identifier_type
    left join exact_junk as e
        on g.identifier_type = e.identifier_type and g.identifier_value = e.identifier_value
)

select
    node_id,
    identifier_type,
    identifier_value,
    key_priority,
    first_seen_at,
    last_seen_at,
    case
        when not type_forms_edges then 'type_does_not_link'
        when exact_junk_reason is not null or matches_junk_pattern then 'junk_identifier'
        when linked_customer_ids > max_linked_customer_ids then 'too_many_linked_customer_ids'
    end is null as forms_edges
from guarded;

-- Deterministic edges: each record links its linking nodes as a star around the smallest.
create or replace temp table edges as
with
linking as (
    select o.record_type, o.record_id, o.node_id
    from occurrences as o
    semi join nodes as n on o.node_id = n.node_id and n.forms_edges
),

anchors as (
    select record_type, record_id, min(node_id) as anchor
    from linking
    group by record_type, record_id
    having min(node_id) <> max(node_id)
)

select
    a.anchor as node_id_a,
    l.node_id as node_id_b,
    'deterministic' as match_method,
    min(l.record_type) as first_record_type
from anchors as a
inner join linking as l
    on a.record_type = l.record_type and a.record_id = l.record_id
where l.node_id <> a.anchor
group by a.anchor, l.node_id;

-- @components

-- Resolved nodes: the component's senior node names the customer; nodes reached only through
-- a probabilistic link carry its strongest probability.
create or replace temp table resolved_nodes as
with
component_nodes as (
    select
        c.node_id,
        c.component_id,
        c.deterministic_component_id,
        c.uncapped_component_size,
        n.identifier_type,
        n.identifier_value,
        n.first_seen_at,
        n.last_seen_at,
        row_number() over (
            partition by c.component_id
            order by n.first_seen_at nulls last, n.key_priority, c.node_id
        ) as seniority,
        count(*) over (partition by c.component_id) as component_size
    from components as c
    inner join nodes as n on c.node_id = n.node_id
),

key_nodes as (
    select
        component_id,
        deterministic_component_id as key_part,
        node_id as key_node_id,
        'cus_' || left(md5(node_id), 16) as customer_key
    from component_nodes
    where seniority = 1
),

part_probabilities as (
    select cn.deterministic_component_id, max(l.match_probability) as match_probability
    from component_nodes as cn
    inner join (
        select node_id_a as node_id, match_probability
        from wh.intermediate.int_identity_probabilistic_links
        union all
        select node_id_b, match_probability
        from wh.intermediate.int_identity_probabilistic_links
    ) as l on cn.node_id = l.node_id
    group by cn.deterministic_component_id
)

select
    cn.node_id,
    cn.identifier_type,
    cn.identifier_value,
    k.customer_key,
    cast('0x' || substr(k.customer_key, 5) as ubigint) as customer_sk,
    k.key_node_id,
    cn.component_size,
    cn.uncapped_component_size,
    cn.first_seen_at,
    cn.last_seen_at,
    case when cn.deterministic_component_id = k.key_part then 'deterministic'
        else 'probabilistic' end as match_method,
    case when cn.deterministic_component_id = k.key_part then 1.0
        else coalesce(p.match_probability, 0.0) end as match_probability,
    cn.uncapped_component_size > cn.component_size as was_cut_by_cap
from component_nodes as cn
inner join key_nodes as k on cn.component_id = k.component_id
left join part_probabilities as p on cn.deterministic_component_id = p.deterministic_component_id;

-- Record keys: each record takes the customer of its most trusted resolved identifier.
create or replace temp table record_keys as
with
candidates as (
    select
        o.record_type,
        o.record_id,
        r.customer_key,
        r.customer_sk,
        r.match_method,
        r.match_probability,
        row_number() over (
            partition by o.record_type, o.record_id
            order by r.customer_key is null, rules.key_priority, o.node_id
        ) as preference
    from occurrences as o
    left join wh.reference.identifier_rules as rules on o.identifier_type = rules.identifier_type
    left join resolved_nodes as r on o.node_id = r.node_id
)

select
    record_type,
    record_id,
    customer_key,
    customer_sk,
    match_method,
    match_probability,
    case when customer_key is null then 'unresolved' else 'resolved' end as resolution_status
from candidates
where preference = 1;
