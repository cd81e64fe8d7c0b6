{% macro whole_row(relation) %}
    {#- The whole row of `relation` (a name in the FROM clause) as one struct value. -#}
    {{ return(adapter.dispatch('whole_row')(relation)) }}
{% endmacro %}

{% macro default__whole_row(relation) %}
    {{ exceptions.raise_compiler_error("whole_row is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__whole_row(relation) %}
    {#- DuckDB: a table name in the select list is its row, a struct. -#}
    {{ relation }}
{%- endmacro %}

{% macro spark__whole_row(relation) %}
    struct({{ relation }}.*)
{%- endmacro %}


{% macro row_json(struct) %}
    {#- A struct as JSON text: every field, null fields as null, in field order. -#}
    {{ return(adapter.dispatch('row_json')(struct)) }}
{% endmacro %}

{% macro default__row_json(struct) %}
    {{ exceptions.raise_compiler_error("row_json is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__row_json(struct) %}
    to_json({{ struct }})
{%- endmacro %}

{% macro spark__row_json(struct) %}
    {#- Spark's to_json leaves null fields out unless told otherwise. -#}
    to_json({{ struct }}, map('ignoreNullFields', 'false'))
{%- endmacro %}
