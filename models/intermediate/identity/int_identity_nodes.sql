-- One row per identifier (node of the identity graph) with the guards that decide whether it
-- may link records: the junk list (seed junk_identifiers) and the fan-out guard (seed
-- identifier_rules: an identifier seen with more distinct CRM customer_ids than allowed — for
-- a customer_id, more distinct emails — is shared, not personal). A node that fails a guard
-- forms no edge; its records resolve through their other identifiers. The counts the guards
-- read (occurrences, fan-out) come from int_identity_node_counts.

{#-
    The junk regexes of seed junk_identifiers, one alternation per identifier type, read when the
    model runs and inlined as string literals. Why: regexp_matches with a pattern taken from a
    joined column compiles the regex again on every row (1.5M compilations of the alternation
    at 300k customers: over 300 CPU seconds, most of this model); a literal pattern is compiled
    once. The seed is upstream, so it is loaded before this model runs; before it is loaded
    (compile or lint on an empty warehouse) the per-row form below is emitted instead.
-#}
{%- set junk_seed = ref('junk_identifiers') -%}
{%- set regex_literals = {} -%}
{%- if execute and load_relation(junk_seed) is not none -%}
    {%- set regex_rows = run_query(
        "select identifier_type, " ~ string_agg_ordered("'(' || pattern || ')'", "'|'", 'pattern')
        ~ " from " ~ junk_seed ~ " where match_type = 'regex' group by identifier_type"
        ~ " order by identifier_type"
    ) -%}
    {%- for row in regex_rows.rows -%}
        {%- do regex_literals.update({row[0]: row[1]}) -%}
    {%- endfor -%}
{%- endif %}

with

node_counts as (

    select * from {{ ref('int_identity_node_counts') }}

),

junk_identifiers as (

    select * from {{ ref('junk_identifiers') }}

),

identifier_rules as (

    select * from {{ ref('identifier_rules') }}

),

exact_junk as (

    select
        identifier_type,
        pattern as identifier_value,
        min(reason) as reason
    from junk_identifiers
    where match_type = 'exact'
    group by identifier_type, pattern

),

{%- if not regex_literals %}

-- One alternation per type: each node is tested once against its type's patterns.
    regex_junk as (

        select
            identifier_type,
            {{ string_agg_ordered("'(' || pattern || ')'", "'|'", 'pattern') }} as combined_pattern
        from junk_identifiers
        where match_type = 'regex'
        group by identifier_type

    ),

{%- endif %}

regex_junk_reasons as (

    select
        identifier_type,
        pattern,
        reason
    from junk_identifiers
    where match_type = 'regex'

),

guarded as (

    select
        node_counts.node_id,
        node_counts.identifier_type,
        node_counts.identifier_value,
        node_counts.occurrence_count,
        identifier_rules.max_linked_customer_ids,
        identifier_rules.key_priority,
        exact_junk.reason as exact_junk_reason,
        node_counts.first_seen_at,
        node_counts.last_seen_at,
        node_counts.linked_customer_ids,
        coalesce(identifier_rules.forms_edges, false) as type_forms_edges,
        coalesce(
            {%- if regex_literals %}
                case node_counts.identifier_type
                    {%- for identifier_type, pattern in regex_literals.items() %}
                        when {{ string_literal(identifier_type) }}
                            then {{ regexp_contains('node_counts.identifier_value', string_literal(pattern)) }}
                    {%- endfor %}
                end,
            {%- else %}
                {{ regexp_contains('node_counts.identifier_value', 'regex_junk.combined_pattern') }},
            {%- endif %}
            false
        ) as matches_junk_pattern
    from node_counts
    left join identifier_rules
        on node_counts.identifier_type = identifier_rules.identifier_type
    left join exact_junk
        on
            node_counts.identifier_type = exact_junk.identifier_type
            and node_counts.identifier_value = exact_junk.identifier_value
    {%- if not regex_literals %}
        left join regex_junk
            on node_counts.identifier_type = regex_junk.identifier_type
    {%- endif %}

),

pattern_reasons as (

    select
        guarded.node_id,
        min(regex_junk_reasons.reason) as reason
    from guarded
    inner join regex_junk_reasons
        on
            guarded.identifier_type = regex_junk_reasons.identifier_type
            and {{ regexp_contains('guarded.identifier_value', 'regex_junk_reasons.pattern') }}
    where guarded.matches_junk_pattern
    group by guarded.node_id

),

classified as (

    select
        guarded.node_id,
        guarded.identifier_type,
        guarded.identifier_value,
        guarded.occurrence_count,
        guarded.linked_customer_ids,
        guarded.key_priority,
        guarded.first_seen_at,
        guarded.last_seen_at,
        case
            when not guarded.type_forms_edges then 'type_does_not_link'
            when guarded.exact_junk_reason is not null then 'junk_identifier'
            when guarded.matches_junk_pattern then 'junk_identifier'
            when guarded.linked_customer_ids > guarded.max_linked_customer_ids
                then 'too_many_linked_customer_ids'
        end as guard_reason,
        coalesce(guarded.exact_junk_reason, pattern_reasons.reason) as junk_reason
    from guarded
    left join pattern_reasons
        on guarded.node_id = pattern_reasons.node_id

),

final as (

    select
        node_id,
        identifier_type,
        identifier_value,
        occurrence_count,
        linked_customer_ids,
        key_priority,
        guard_reason,
        junk_reason,
        first_seen_at,
        last_seen_at,
        guard_reason is null as forms_edges
    from classified

)

select * from final
