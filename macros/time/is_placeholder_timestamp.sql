{% macro is_placeholder_timestamp(expression) %}
    {#- True when `expression` (a timestamp) equals one of var segments__placeholder_timestamps:
        a source system's "unknown" default rather than a moment. False for an empty list. -#}
    {%- set placeholders = var('segments__placeholder_timestamps', []) -%}
    {%- if placeholders | length == 0 -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for value in placeholders -%}
        {%- do literals.append("cast('" ~ (value | string | trim) ~ "' as timestamp)") -%}
    {%- endfor -%}
    {{ return(expression ~ ' in (' ~ literals | join(', ') ~ ')') }}
{% endmacro %}
