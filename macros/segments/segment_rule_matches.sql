{% macro segment_rule_matches(rules, relation) %}
    {#-
        A query returning (customer_key, segment_id) for every row of `relation` (customer_features)
        that matches each rule (list from get_segment_rules, already validated); a null result
        counts as no match.
    -#}
    {%- if rules | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as {{ dbt.type_string() }}) as segment_id
    where false
    {%- endif %}
    {%- for rule in rules %}
    select
        customer_key,
        {{ sql_string_literal(rule.segment_id) }} as segment_id
    from {{ relation }}
    where coalesce(({{ rule.rule }}), false)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
