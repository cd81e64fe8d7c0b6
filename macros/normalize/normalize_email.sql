{% macro normalize_email(expression) %}
    {#- Trimmed, lower-cased email; empty becomes null. Validity is a separate flag (is_valid_email). -#}
    lower({{ clean_text(expression) }})
{% endmacro %}
