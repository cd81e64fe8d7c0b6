{% macro string_literal(value) %}
    {#- `value` (a Jinja string) as a SQL string literal that reads back as exactly `value`. -#}
    {{ return(adapter.dispatch('string_literal')(value | string)) }}
{% endmacro %}

{% macro default__string_literal(value) %}
    {#- Standard SQL: quotes doubled, backslashes are plain characters. -#}
    {{ return("'" ~ value | replace("'", "''") ~ "'") }}
{% endmacro %}

{% macro spark__string_literal(value) %}
    {#- Spark: a backslash escapes the next character (`\b` would be a backspace), `''` is not a quote. -#}
    {{ return("'" ~ value | replace('\\', '\\\\') | replace("'", "\\'") ~ "'") }}
{% endmacro %}
