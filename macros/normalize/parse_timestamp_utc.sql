{% macro parse_timestamp_utc(expression) %}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'segments')(expression)) }}
{% endmacro %}

{% macro default__parse_timestamp_utc(expression) %}
    {#- ISO-8601 text to a UTC timestamp (an explicit offset is honoured, none means UTC); null when it does not parse. -#}
    timezone('UTC', {{ try_cast_to(clean_text(expression), 'timestamptz') }})
{% endmacro %}
