{% macro string_agg_ordered(expression, separator, order_by=none, distinct=false) %}
    {#-
        Aggregate: the non-null values of `expression` joined by `separator` (a SQL string
        literal), in the order of `order_by` (an expression; default the value itself); null
        when there are none. distinct=true joins each value once (then order_by must be the
        value itself).
    -#}
    {%- if distinct and order_by is not none and order_by != expression -%}
        {{ exceptions.raise_compiler_error("string_agg_ordered: distinct values are ordered by themselves") }}
    {%- endif -%}
    {{ return(adapter.dispatch('string_agg_ordered')(expression, separator, order_by, distinct)) }}
{% endmacro %}

{% macro default__string_agg_ordered(expression, separator, order_by, distinct) %}
    {{ exceptions.raise_compiler_error("string_agg_ordered is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__string_agg_ordered(expression, separator, order_by, distinct) %}
    string_agg({{ 'distinct ' if distinct }}{{ expression }}, {{ separator }} order by {{ order_by or expression }})
{%- endmacro %}

{% macro spark__string_agg_ordered(expression, separator, order_by, distinct) %}
    {#- collect_list / collect_set skip nulls; the structs sort by the order key, then the value. -#}
    case when count({{ expression }}) > 0 then array_join(
        {%- if distinct %}
        array_sort(collect_set({{ expression }})),
        {%- else %}
        transform(
            array_sort(collect_list(
                case when ({{ expression }}) is not null
                    then named_struct('k', {{ order_by or expression }}, 'v', {{ expression }}) end
            )),
            item -> item.v
        ),
        {%- endif %}
        {{ separator }}
    ) end
{%- endmacro %}
