{#-
    The pieces every base model of models/staging/*/base writes the same way: the incremental
    config, the bookkeeping columns a parsed raw row carries, the classification of an
    incremental batch, and the disposition columns the base table ends with. One definition
    each, so the base models differ only in what is theirs (columns, checks, keys).
-#}

{% macro staging_incremental_config(source, key, key_expression, time_column, future_check, parent=none, parent_key=none, extra_post_hooks=[]) %}
    {#-
        The config of an incremental base model (docs/incremental.md), for
        `config(**staging_incremental_config(...))`: delete+insert on the group key `key`
        (staging_incremental_strategy: insert_overwrite of the whole table on Spark),
        the fallback reset as pre-hook, the landing-file record (then `extra_post_hooks`) as
        post-hooks, and meta.staging_incremental (see macros/staging/incremental_staging.sql).
    -#}
    {%- set spec = {
        'source': source,
        'key': key,
        'key_expression': key_expression,
        'time_column': time_column,
        'future_check': future_check,
    } -%}
    {%- if parent is not none -%}
        {%- do spec.update({'parent': parent, 'parent_key': parent_key}) -%}
    {%- endif -%}
    {%- set post_hooks = ['{{ staging_record_landing_files() }}'] + extra_post_hooks -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': staging_incremental_strategy(),
        'unique_key': key,
        'on_schema_change': 'fail',
        'pre_hook': '{{ staging_incremental_reset() }}',
        'post_hook': post_hooks[0] if post_hooks | length == 1 else post_hooks,
        'meta': {'staging_incremental': spec},
    }) }}
{% endmacro %}


{% macro staging_raw_row_columns(fingerprint_columns, shared_flag=true) %}
    {#-
        The bookkeeping columns of a parsed raw row of `source`: its landing file, (when
        shared_flag) whether its group is shared (the model left-joins `shared_groups`, see
        classify_shared_groups), the whole raw row (for the quarantine) and the fingerprint of
        `fingerprint_columns`.
    -#}
    source._landing_file,
    {%- if shared_flag %}
    shared_groups._classify_group_hash is not null as _classify_shared,
    {%- endif %}
    {#- `source` here is the whole raw row, not a column. #}
    {{ whole_row('source') }} as raw_row,
    {{ row_fingerprint(fingerprint_columns) }} as row_fingerprint
{%- endmacro %}


{% macro classify_shared_join(group_expression) %}
    {#- Joins the raw rows of `source` to the `shared_groups` CTE (classify_shared_groups over
        the same group_expression): the join that flags each row's group as shared. -#}
    left join shared_groups
        on {{ classify_group_hash(group_expression) }} = shared_groups._classify_group_hash
{%- endmacro %}


{% macro classify_incremental_batch(plan, visible_at, key_columns=[], version_order=none, key_mode='none', relation='checked') %}
    {#-
        classify_rows over the rows of `relation` (the model's `checked` CTE) that an incremental
        base model's `plan` re-classifies (staging_batch_filter: every row on a full build),
        exact copies ordered by landing file, lone rows on the fast path (flag
        `_classify_shared`). The other arguments as classify_rows.
    -#}
    {%- set batch -%}
        (select * from {{ relation }} where {{ staging_batch_filter(plan, relation) }}) as _staging_batch
    {%- endset -%}
    {{ classify_rows(
        batch,
        key_columns=key_columns,
        version_order=version_order,
        key_mode=key_mode,
        visible_at=visible_at,
        copy_order='_landing_file',
        shared_flag='_classify_shared',
    ) }}
{%- endmacro %}


{% macro staging_disposition_columns(run_stamp=false) %}
    {#-
        The columns a base model ends with after its own: row_status, quarantine_reason,
        row_fingerprint, landing_file, the raw record (quarantined rows only) and, with
        run_stamp (incremental models), batch_run_started_at.
    -#}
    row_status,
    quarantine_reason,
    row_fingerprint,
    _landing_file as landing_file,
    case when row_status = 'quarantined' then {{ row_json('raw_row') }} end as raw_record
    {%- if run_stamp %},
    {{ staging_batch_run_started_at() }} as batch_run_started_at
    {%- endif %}
{%- endmacro %}


{% macro documented_columns(computed=[]) %}
    {#-
        The columns the model's YAML documents, in their order, as a select list of plain
        names, except the ones the model computes itself (`computed`): a stg_ view publishes
        exactly the columns it documents, from the base model it reads. Empty at parse time
        (the YAML is not attached yet); a documented column the base model lacks is a
        compile-time "column not found".
    -#}
    {%- set names = [] -%}
    {%- for name in model.columns if name not in computed -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{ names | join(',\n        ') }}
{%- endmacro %}
