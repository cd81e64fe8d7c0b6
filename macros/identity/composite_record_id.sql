{% macro composite_record_id(parts) %}
    {#-
        Record id of a record that has no id of its own (a web link, a campaign recipient, a
        consent subject): its parts joined by '|', each with '\' and '|' escaped first, so two
        different records never share an id ('a|b' + 'c' is 'a\|b|c', 'a' + 'b|c' is 'a|b\|c').
        A null part is empty; parts come from clean_text, which never gives ''.
    -#}
    {%- for part in parts -%}
        {%- if not loop.first %} || '|' || {% endif -%}
        coalesce(replace(replace({{ part }}, {{ string_literal('\\') }}, {{ string_literal('\\\\') }}), '|', {{ string_literal('\\|') }}), '')
    {%- endfor -%}
{% endmacro %}
