{#-
    Spark implementations of the dispatched normalisers of macros/normalize (their default__
    versions are DuckDB SQL). Spark string literals treat a backslash as an escape, so the
    regular expressions below double theirs (`'\\s'` reaches the regex engine as `\s`), and
    Spark's regexp_replace replaces every match (its 4th argument is a position, not flags).
-#}

{% macro spark__normalize_phone(phone, calling_code) %}
    case
        when nullif(regexp_replace(coalesce({{ phone }}, ''), '[^0-9]', ''), '') is null
            then null
        when trim({{ phone }}) like '+%'
            then '+' || regexp_replace({{ phone }}, '[^0-9]', '')
        when regexp_replace({{ phone }}, '[^0-9]', '') like '00%'
            then '+' || substr(regexp_replace({{ phone }}, '[^0-9]', ''), 3)
        when {{ calling_code }} = '1'
            and length(regexp_replace({{ phone }}, '[^0-9]', '')) = 11
            and regexp_replace({{ phone }}, '[^0-9]', '') like '1%'
            then '+' || regexp_replace({{ phone }}, '[^0-9]', '')
        when regexp_replace({{ phone }}, '[^0-9]', '') like '0%'
            then '+' || {{ calling_code }} || substr(regexp_replace({{ phone }}, '[^0-9]', ''), 2)
        else '+' || {{ calling_code }} || regexp_replace({{ phone }}, '[^0-9]', '')
    end
{% endmacro %}

{% macro spark__parse_timestamp_utc(expression) %}
    {#- Spark's TIMESTAMP is an instant shown in the session time zone (UTC, scale_out's
        session): an explicit offset is honoured, none means UTC. -#}
    {{ try_cast_to(clean_text(expression), 'timestamp') }}
{% endmacro %}
