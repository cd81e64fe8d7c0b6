{% macro classify_rows(relation, key_columns=[], version_order=none, key_mode='none', visible_at=none) %}
    {#-
        Decide what happens to every raw row of a source, so that nothing is dropped silently.
        `relation` must have `quarantine_reason` (first failing check, null when the row is
        usable) and `row_fingerprint` (hash of the raw values). Adds `row_status`:

          quarantined      quarantine_reason is set (a check failed, or the row lost a key conflict)
          duplicate        an exact copy of another usable row (the first copy is kept)
          not_yet_visible  valid, but `visible_at` is after as_of_date (backfill: not quarantined)
          superseded       key_mode 'history': an older version of the same key (latest visible wins)
          staged           everything else: the rows the stg_ view publishes

        key_mode 'conflict': usable rows sharing `key_columns` with different content keep the
        first by `version_order`; the others are quarantined as `conflicting_duplicate_key`.
        key_mode 'history': versions of a key are history; the first by `version_order` among
        the visible versions is current. key_mode 'none': no key, exact duplicates only.
    -#}
    {%- set visible = 'true' if visible_at is none
        else '(' ~ visible_at ~ ' is null or ' ~ visible_at ~ ' < ' ~ visible_before_sql() ~ ')' -%}
    {%- set key_partition = key_columns | join(', ') -%}
    select
        ranked.* exclude (quarantine_reason, copy_number, key_rank),
        case
            when ranked.quarantine_reason is not null then ranked.quarantine_reason
            {%- if key_mode == 'conflict' %}
            when ranked.key_rank > 1 then 'conflicting_duplicate_key'
            {%- endif %}
        end as quarantine_reason,
        case
            when ranked.quarantine_reason is not null then 'quarantined'
            when ranked.copy_number > 1 then 'duplicate'
            {%- if key_mode == 'conflict' %}
            when ranked.key_rank > 1 then 'quarantined'
            {%- endif %}
            when not {{ visible }} then 'not_yet_visible'
            {%- if key_mode == 'history' %}
            when ranked.key_rank > 1 then 'superseded'
            {%- endif %}
            else 'staged'
        end as row_status
    from (
        select
            copies.*,
            {%- if key_mode in ('conflict', 'history') %}
            case
                when copies.quarantine_reason is null and copies.copy_number = 1
                    {%- if key_mode == 'history' %} and {{ visible }}{% endif %}
                    then row_number() over (
                        partition by
                            {{ key_partition }},
                            copies.quarantine_reason is null
                            and copies.copy_number = 1
                            {%- if key_mode == 'history' %} and {{ visible }}{% endif %}
                        order by {{ version_order }}
                    )
            end as key_rank
            {%- else %}
            cast(null as bigint) as key_rank
            {%- endif %}
        from (
            select
                rows_in.*,
                case
                    when rows_in.quarantine_reason is null
                        then row_number() over (
                            partition by rows_in.quarantine_reason is null, rows_in.row_fingerprint
                            order by rows_in.row_fingerprint
                        )
                end as copy_number
            from {{ relation }} as rows_in
        ) as copies
    ) as ranked
{% endmacro %}
