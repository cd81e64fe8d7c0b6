{% macro get_segment_rules(segment_ids=none, definitions=none) %}
    {#-
        The rules of seed segment_definitions, validated, as a list of {segment_id, rule} ordered
        by segment_id: the active ones, or (segment_ids given, for analyses) exactly those, active
        or not. A rule that fails validation (segment_rule_checks: parse, shape, binding, type;
        then one scan of customer_features for errors raised while running) stops the run here
        with one line naming the segment. Before the seed is loaded (compile or lint on an empty
        warehouse) there is nothing to read: [] is returned, except in `dbt run` / `dbt build`,
        where that is an error. definitions: the relation to read (default the seed;
        segment_membership passes segment_definitions_in_effect, which applies version pins).
    -#}
    {%- set definitions = definitions if definitions is not none else ref('segment_definitions') -%}
    {%- set features = ref('customer_features') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if load_relation(definitions) is none -%}
        {%- if flags.WHICH in ('run', 'build') -%}
            {{ exceptions.raise_compiler_error(
                "segment rules: " ~ definitions ~ " is not built: run `dbt seed --select segment_definitions` and"
                ~ " `dbt run --select +segment_definitions_in_effect` first."
            ) }}
        {%- endif -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set checked = run_query(segment_rule_checks(definitions, load_relation(features), segment_ids)) -%}
    {%- set rules = [] -%}
    {%- for row in checked.rows -%}
        {%- if row['problem'] is not none -%}
            {{ exceptions.raise_compiler_error(
                "segment_definitions: the rule of segment '" ~ row['segment_id'] ~ "' " ~ row['problem']
                ~ " (rule: " ~ row['rule'] ~ ")"
            ) }}
        {%- endif -%}
        {%- do rules.append({'segment_id': row['segment_id'], 'rule': row['rule']}) -%}
    {%- endfor -%}
    {#-
        What the parser and binder cannot see: an error raised while running (a literal or value
        that fails to cast). try() turns it into null, so one scan counts the failing rows of
        every rule without throwing.
    -#}
    {%- if rules and load_relation(features) is not none -%}
        {%- set probe -%}
            select
            {%- for rule in rules %}
                count(*) filter (where {{ try_expression('coalesce((' ~ rule.rule ~ '), false)') }} is null) as failing_{{ loop.index }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
            from {{ features }}
        {%- endset -%}
        {%- set failing = run_query(probe).rows[0] -%}
        {%- for rule in rules -%}
            {%- if failing[loop.index0] > 0 -%}
                {{ exceptions.raise_compiler_error(
                    "segment_definitions: the rule of segment '" ~ rule.segment_id ~ "' fails while running on "
                    ~ failing[loop.index0] ~ " row(s) of " ~ features.identifier ~ " (a value or literal that"
                    ~ " cannot be cast?); `select " ~ rule.rule ~ " from " ~ features ~ "` shows DuckDB's error"
                    ~ " (rule: " ~ rule.rule ~ ")"
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if segment_ids is not none -%}
        {%- set found = rules | map(attribute='segment_id') | list -%}
        {%- for segment_id in segment_ids if segment_id not in found -%}
            {{ exceptions.raise_compiler_error("segment_definitions has no segment '" ~ segment_id ~ "'.") }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(rules) }}
{% endmacro %}
