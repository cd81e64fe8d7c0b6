{% macro clean_text(expression) %}
    {#- Trimmed text; empty strings become null. -#}
    nullif(trim({{ expression }}), '')
{% endmacro %}
