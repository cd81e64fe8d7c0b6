{% macro classify_rows(relation, key_columns=[], version_order=none, key_mode='none', visible_at=none, copy_order=none, shared_flag=none) %}
    {#-
        Decide what happens to every raw row of a source, so that nothing is dropped silently.
        `relation` must have `quarantine_reason` (first failing check, null when the row is
        usable) and `row_fingerprint` (hash of the raw values). Adds `row_status`:

          quarantined      quarantine_reason is set (a check failed, or the row lost a key conflict)
          duplicate        an exact copy of another usable row (the first copy by `copy_order`
                           is kept; copies differ at most in their landing file)
          not_yet_visible  valid, but `visible_at` is after as_of_date (backfill: not quarantined)
          superseded       key_mode 'history': an older version of the same key (latest visible wins)
          staged           everything else: the rows the stg_ view publishes

        key_mode 'conflict': usable rows sharing `key_columns` with different content keep the
        first by `version_order`; the others are quarantined as `conflicting_duplicate_key`.
        key_mode 'history': versions of a key are history; the first by `version_order` among
        the visible versions is current. key_mode 'none': no key, exact duplicates only.

        shared_flag (optional): a boolean column of `relation` (see classify_shared_groups) that is
        false only for rows alone in their group (no other row of `relation` shares their key,
        hence their fingerprint). Such a row's status follows from the row itself (quarantined,
        not_yet_visible or staged: it is its own first copy and its key's only version), so it
        skips the numbering, the joins and the window; only the flagged rows, complete groups,
        take the general path below. The column is not in the output.
    -#}
    {%- set visible = 'true' if visible_at is none
        else '(' ~ visible_at ~ ' is null or ' ~ visible_at ~ ' < ' ~ visible_before_sql() ~ ')' -%}
    {%- if copy_order is not none and (',' in copy_order or ' ' in copy_order.strip()) -%}
        {{ exceptions.raise_compiler_error(
            "classify_rows: copy_order must be one column, ascending (got '" ~ copy_order ~ "')."
        ) }}
    {%- endif -%}
    {%- set keyed = key_mode in ('conflict', 'history') -%}
    {#- The narrow columns the windows need: keys, fingerprint, and the columns version_order sorts on. -#}
    {%- set narrow = ['row_fingerprint'] -%}
    {%- if copy_order is not none -%}
        {%- for term in copy_order.split(',') -%}
            {%- set column = term.strip().split(' ')[0] -%}
            {%- if column not in narrow %}{% do narrow.append(column) %}{% endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for column in key_columns -%}
        {%- if column not in narrow %}{% do narrow.append(column) %}{% endif -%}
    {%- endfor -%}
    {%- if keyed -%}
        {%- for term in version_order.split(',') -%}
            {%- set column = term.strip().split(' ')[0] -%}
            {%- if column not in narrow %}{% do narrow.append(column) %}{% endif -%}
        {%- endfor -%}
    {%- endif -%}
    {#-
        Shape (what keeps it fast at tens of millions of rows): the rows are numbered once into
        a materialized CTE; the windows run over a narrow projection of it (row number, check
        result, visibility, fingerprint, key and ordering columns) and the statuses are joined
        back by row number. A window over the whole wide row sorts and spills every column.
    -#}
    {%- set shared_rows = relation if shared_flag is none else '_classify_shared_rows' %}
    with
    {% if shared_flag is not none %}
    -- Inlined twice (once per path): the filters on the flag reach the scan below the parsing.
    _classify_input as {{ not_materialized() }} (

        select * from {{ relation }}

    ),

    _classify_shared_rows as {{ not_materialized() }} (

        select {{ star_except('_classify_input', [shared_flag]) }} from _classify_input
        where {{ shared_flag }}

    ),
    {% endif %}
    numbered as {{ cte_materialized() }} (

        select
            {{ row_id() }} as _classify_row,
            rows_in.*
        from {{ shared_rows }} as rows_in

    ),

    -- The first copy of each group of exact copies (by copy_order), as an aggregate: a
    -- row_number() window over millions of two-row partitions took 30 s per 5M web events.
    first_copies as (

        select
            row_fingerprint,
            {% if copy_order is not none -%}
            {{ arg_min_by('_classify_row', copy_order) }} as first_copy_row
            {%- else -%}
            min(_classify_row) as first_copy_row
            {%- endif %}
        from numbered
        where quarantine_reason is null
        group by row_fingerprint

    ),

    copies as (

        select
            numbered._classify_row,
            numbered.quarantine_reason,
            {{ visible }} as _classify_visible,
            {%- for column in narrow %}
            numbered.{{ column }},
            {%- endfor %}
            -- 1 = the copy kept, 2 = a later copy (a duplicate); null for quarantined rows
            case
                when numbered._classify_row = first_copies.first_copy_row then 1
                when numbered.quarantine_reason is null then 2
            end as copy_number
        from numbered
        left join first_copies
            on
                numbered.row_fingerprint = first_copies.row_fingerprint
                and numbered.quarantine_reason is null

    ),

    ranked as (

        select
            _classify_row,
            quarantine_reason,
            _classify_visible,
            copy_number,
            {%- if keyed %}
            case
                when quarantine_reason is null and copy_number = 1
                    {%- if key_mode == 'history' %} and _classify_visible{% endif %}
                    then row_number() over (
                        partition by
                            {{ key_columns | join(', ') }},
                            quarantine_reason is null
                            and copy_number = 1
                            {%- if key_mode == 'history' %} and _classify_visible{% endif %}
                        order by {{ version_order }}
                    )
            end as key_rank
            {%- else %}
            cast(null as bigint) as key_rank
            {%- endif %}
        from copies

    ),

    statuses as (

        select
            _classify_row,
            case
                when quarantine_reason is not null then quarantine_reason
                {%- if key_mode == 'conflict' %}
                when key_rank > 1 then 'conflicting_duplicate_key'
                {%- endif %}
            end as quarantine_reason,
            case
                when quarantine_reason is not null then 'quarantined'
                when copy_number > 1 then 'duplicate'
                {%- if key_mode == 'conflict' %}
                when key_rank > 1 then 'quarantined'
                {%- endif %}
                when not _classify_visible then 'not_yet_visible'
                {%- if key_mode == 'history' %}
                when key_rank > 1 then 'superseded'
                {%- endif %}
                else 'staged'
            end as row_status
        from ranked

    )

    select
        {{ star_except('numbered', ['_classify_row', 'quarantine_reason']) }},
        statuses.quarantine_reason,
        statuses.row_status
    from numbered
    inner join statuses
        on numbered._classify_row = statuses._classify_row
    {%- if shared_flag is not none %}

    union all

    -- Rows alone in their group: the general path's statuses, row by row (columns in the
    -- order of the branch above, so the union matches them by position on every engine).
    select
        {{ star_except('_classify_input', [shared_flag, 'quarantine_reason']) }},
        quarantine_reason,
        case
            when quarantine_reason is not null then 'quarantined'
            when not {{ visible }} then 'not_yet_visible'
            else 'staged'
        end as row_status
    from _classify_input
    where not {{ shared_flag }}
    {%- endif %}
{% endmacro %}


{% macro classify_shared_groups(relation, group_expression) %}
    {#-
        The groups of `relation` (a raw relation, before any parsing) that hold two rows or
        more, as `_classify_group_hash` = hash(group_expression), where group_expression is the
        key classify_rows groups on, computed from the raw columns exactly as the parsed key is.
        A row whose hash is not listed is alone in its group: classify_rows(shared_flag=...)
        lets it skip the general path. The model computes the flag by joining its raw rows on
        classify_group_hash(the same group_expression) = _classify_group_hash.

        Counted per hash, a bigint, instead of per key (cheaper to group at tens of millions
        of rows): equal keys have equal hashes, so every row of a group of two or more is
        listed. A hash collision only lists two lone rows, which the general path then
        classifies exactly as before: a collision cannot change a status. Null keys share one
        hash and are listed together when there are several. Counting over the rows read (a
        superset of the batch an incremental run classifies) is safe the same way: a row alone
        among them is alone in the batch.
    -#}
    select {{ classify_group_hash(group_expression) }} as _classify_group_hash
    from {{ relation }}
    group by 1
    having count(*) > 1
{% endmacro %}


{% macro classify_group_hash(group_expression) %}
    {#- The hash classify_shared_groups lists groups by: one definition for the list and for
        the join that flags each raw row, so the two cannot drift apart. -#}
    {{ group_hash(group_expression) }}
{%- endmacro %}
