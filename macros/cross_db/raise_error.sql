{% macro raise_error(message) %}
    {#- A SQL expression that stops the query with `message` (a SQL text expression) when it is
        evaluated, i.e. for each row that reaches it; a query whose rows never reach it runs. -#}
    {{ return(adapter.dispatch('raise_error')(message)) }}
{% endmacro %}

{% macro default__raise_error(message) %}
    {{ exceptions.raise_compiler_error(
        "raise_error: no run-time error function known for adapter " ~ adapter.type()
        ~ "; add a " ~ adapter.type() ~ "__raise_error macro in macros/cross_db/raise_error.sql"
    ) }}
{%- endmacro %}

{% macro duckdb__raise_error(message) %}
    {#- DuckDB's error(): "Invalid Input Error: <message>". -#}
    error({{ message }})
{%- endmacro %}

{% macro spark__raise_error(message) %}
    {#- Spark's raise_error() (3.1+). -#}
    raise_error({{ message }})
{%- endmacro %}
