{% macro parse_date(expression) %}
    {#- 'YYYY-MM-DD' text to a date; null when it does not parse. -#}
    {{ try_cast_to(clean_text(expression), 'date') }}
{% endmacro %}

{% macro parse_amount(expression) %}
    {#- Decimal text ('12.50') to decimal(18, 2); null when it does not parse (e.g. '12,50', 'N/A'). -#}
    {{ try_cast_to(clean_text(expression), 'decimal(18, 2)') }}
{% endmacro %}

{% macro parse_integer(expression) %}
    {#- Integer text to bigint; null when it does not parse. -#}
    {{ try_cast_to(clean_text(expression), 'bigint') }}
{% endmacro %}
