{% macro map_literal(pairs) %}
    {#- A MAP value from (key, value) pairs of SQL expressions, in order; `map[key]` reads it. -#}
    {{ return(adapter.dispatch('map_literal')(pairs)) }}
{% endmacro %}

{% macro default__map_literal(pairs) %}
    {{ exceptions.raise_compiler_error("map_literal is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__map_literal(pairs) %}
    {%- set entries = [] -%}
    {%- for key, value in pairs -%}
        {%- do entries.append(key ~ ': ' ~ value) -%}
    {%- endfor -%}
    map { {{- entries | join(', ') -}} }
{%- endmacro %}

{% macro spark__map_literal(pairs) %}
    {%- set entries = [] -%}
    {%- for key, value in pairs -%}
        {%- do entries.append(key ~ ', ' ~ value) -%}
    {%- endfor -%}
    map({{ entries | join(', ') }})
{%- endmacro %}
