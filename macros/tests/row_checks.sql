{% test row_checks(model, checks) %}
    {#- One test for a model's row-level conditions: returns one row per check that some
        rows break (check_name, failing_rows); its failure count is the rows' sum. One scan and one dbt node where a test per
        condition made one of each (the lean test graph, DECISIONLOG). A check is
        - a string: a boolean SQL expression every row must make true (null fails);
        - {expression: ..., where: ...}: the same, on the rows `where` selects;
        - {column: ..., min_value: ..., max_value: ..., inclusive: true, where: ...}: every
          non-null value of the column within the bounds (exclusive when inclusive is false);
        - {column: ..., values: [...], quote: true, where: ...}: every non-null value of the
          column one of `values` (quoted as strings unless quote is false). -#}
    {#- dbt counts failing rows, as a test per condition did (`WARN 7` for seven rows), not
        failing checks. -#}
    {{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
    {%- set conditions = [] -%}
    {%- for check in checks -%}
        {%- do conditions.append(row_check_condition(check)) -%}
    {%- endfor %}
    with failing_counts as (
        select
        {%- for condition in conditions %}
            sum(case when {{ condition.fails }} then 1 else 0 end) as failing_{{ loop.index }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ model }}
    ),

    per_check as (
        {%- for condition in conditions %}
        select {{ string_literal(condition.label) }} as check_name, failing_{{ loop.index }} as failing_rows
        from failing_counts
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    )

    select * from per_check
    where failing_rows > 0
{% endtest %}

{% macro row_check_condition(check) %}
    {#- A row_checks entry as {label, fails}: `fails` is a SQL predicate true on a breaking row. -#}
    {%- if check is string -%}
        {%- set check = {'expression': check} -%}
    {%- endif -%}
    {%- if check.get('expression') is not none and check.get('column') is none -%}
        {%- set label = check['expression'] -%}
        {%- set fails = 'not coalesce(' ~ check['expression'] ~ ', false)' -%}
    {%- elif check.get('column') is not none and check.get('values') is not none -%}
        {%- set literals = [] -%}
        {%- for value in check['values'] -%}
            {%- do literals.append(string_literal(value) if check.get('quote', true) else value | string) -%}
        {%- endfor -%}
        {%- set label = check['column'] ~ ' in (' ~ literals | join(', ') ~ ')' -%}
        {%- set fails = check['column'] ~ ' is not null and ' ~ check['column'] ~ ' not in (' ~ literals | join(', ') ~ ')' -%}
    {%- elif check.get('column') is not none and check.get('expression') is none -%}
        {%- set column = check['column'] -%}
        {%- set inclusive = check.get('inclusive', true) -%}
        {%- set bounds = [] -%}
        {%- if check.get('min_value') is not none -%}
            {%- do bounds.append(column ~ (' >= ' if inclusive else ' > ') ~ check['min_value']) -%}
        {%- endif -%}
        {%- if check.get('max_value') is not none -%}
            {%- do bounds.append(column ~ (' <= ' if inclusive else ' < ') ~ check['max_value']) -%}
        {%- endif -%}
        {%- if not bounds -%}
            {{ exceptions.raise_compiler_error("row_checks: the range check on '" ~ column ~ "' needs min_value or max_value") }}
        {%- endif -%}
        {%- set label = bounds | join(' and ') -%}
        {%- set fails = column ~ ' is not null and not (' ~ label ~ ')' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("row_checks: each check is an expression string, {expression, where}, {column, min_value/max_value, inclusive, where} or {column, values, quote, where}; got " ~ check) }}
    {%- endif -%}
    {%- if check.get('where') is not none -%}
        {%- set label = label ~ ' (where ' ~ check['where'] ~ ')' -%}
        {%- set fails = '(' ~ check['where'] ~ ') and ' ~ fails -%}
    {%- endif -%}
    {{ return({'label': label, 'fails': fails}) }}
{% endmacro %}
