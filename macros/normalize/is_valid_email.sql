{% macro is_valid_email(normalized_email) %}
    {{ return(adapter.dispatch('is_valid_email', 'segments')(normalized_email)) }}
{% endmacro %}

{% macro default__is_valid_email(normalized_email) %}
    {#- local@domain.tld with no spaces and a top-level domain of two or more letters. -#}
    coalesce(
        {{ regexp_full_match(normalized_email, '[^@\\s]+@[^@\\s]+\\.[a-z]{2,}') }},
        false
    )
{% endmacro %}
