{% macro identifier_occurrences(relation, record_type, record_id, seen_at, identifiers, last_seen_at=none) %}
    {#-
        Unpivot a record relation into one row per (record, identifier): record_type,
        record_id, identifier_type, identifier_value, seen_at, last_seen_at. `identifiers` is a
        list of [identifier_type, SQL expression] pairs; null values are skipped.
        `last_seen_at` is for records that stand for many sightings (a web link: every event of
        one cookie with one customer id and email); it defaults to `seen_at`.
    -#}
    {%- for identifier_type, expression in identifiers %}
    select
        '{{ record_type }}' as record_type,
        cast({{ record_id }} as {{ dbt.type_string() }}) as record_id,
        '{{ identifier_type }}' as identifier_type,
        cast({{ expression }} as {{ dbt.type_string() }}) as identifier_value,
        {{ seen_at }} as seen_at,
        {{ last_seen_at or seen_at }} as last_seen_at
    from {{ relation }}
    where {{ expression }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{% endmacro %}
