{% macro row_fingerprint(columns) %}
    {#- md5 over the given columns (nulls distinguished from empty strings): equal rows, equal fingerprints. -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as varchar), '<null>')") -%}
    {%- endfor -%}
    md5({{ parts | join(" || '|' || ") }})
{% endmacro %}
