{% macro sha256_hex(value) %}
    {#- SHA-256 of a text's UTF-8 bytes as 64 lower-case hex digits; null for null. -#}
    {{ return(adapter.dispatch('sha256_hex')(value)) }}
{% endmacro %}

{% macro default__sha256_hex(value) %}
    {{ exceptions.raise_compiler_error("sha256_hex is not implemented for adapter " ~ adapter.type()) }}
{% endmacro %}

{% macro duckdb__sha256_hex(value) %}
    sha256({{ value }})
{%- endmacro %}

{% macro spark__sha256_hex(value) %}
    sha2({{ value }}, 256)
{%- endmacro %}
