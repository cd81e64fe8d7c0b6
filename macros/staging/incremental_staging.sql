{#-
    Incremental base models (docs/incremental.md). A base model classifies rows in groups that
    are closed under its rules: every row whose disposition can depend on another row shares the
    group key with it (web events and orders: the business key; campaign events: the row
    fingerprint; order items: order_id). An incremental run therefore

      1. reads only the landing files not loaded yet (raw.<source>__landing_files against the
         record the post-hook keeps in <model>__landing_files),
      2. re-reads, from the files that hold them, the loaded rows of every group that gets a
         new row, and of every group holding a row whose time-dependent status changes with
         this run's as_of_date or load time (not_yet_visible <-> staged, future_timestamp),
         and of every group the model declares affected through a parent (order items: the
         orders re-classified since the items' last run),
      3. classifies those complete groups with the same SQL as a full build (classify_rows),
         and replaces them (delete+insert on the group key).

    Rows with no group key (missing key: quarantined by the first check, independent of every
    other row) are only ever inserted, from their new file. A loaded file that changed or
    disappeared, a missing record of loaded files, or a parent rebuilt in full makes the run a
    full rebuild of the model (the pre-hook empties it): that is the fallback, logged.

    Configuration (model config meta.staging_incremental): source [source_name, table_name],
    key (group key column of the model), key_expression (the same key computed on the raw view),
    time_column (the visibility timestamp), future_check (the model quarantines
    future_timestamp), parent / parent_key (optional: a base model whose re-classified keys
    affect this model's groups).
-#}

{% macro staging_incremental_spec() %}
    {%- set spec = config.get('meta', {}).get('staging_incremental') -%}
    {%- if spec is none -%}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ ": an incremental base model needs config meta.staging_incremental."
        ) }}
    {%- endif -%}
    {{ return(spec) }}
{% endmacro %}


{% macro staging_loaded_files_relation() %}
    {#- Where the model records the landing files (size, modification time) it has loaded. -#}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__landing_files'
    )) }}
{% endmacro %}


{% macro staging_landing_files_relation(spec) %}
    {%- set raw_source = source(spec['source'][0], spec['source'][1]) -%}
    {{ return(api.Relation.create(
        database=raw_source.database, schema=raw_source.schema,
        identifier=raw_source.identifier ~ '__landing_files'
    )) }}
{% endmacro %}


{% macro staging_sql_list(values) %}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append(sql_string_literal(value)) -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{% endmacro %}


{% macro staging_incremental_mode() %}
    {#-
        'full' (build or rebuild everything) or 'incremental', with the reason and the new
        files: {'mode': ..., 'reason': ..., 'new_files': [...]}.
    -#}
    {#- Unit tests render the model without a relation: always the full-build SQL there. -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return({'mode': 'full', 'reason': 'full build', 'new_files': []}) }}
    {%- endif -%}
    {%- if not staging_incremental_batches() -%}
        {{ return({'mode': 'full', 'reason': 'this engine replaces the whole table (staging_incremental_strategy '
            ~ staging_incremental_strategy() ~ ')', 'new_files': []}) }}
    {%- endif -%}
    {%- set spec = staging_incremental_spec() -%}
    {%- set loaded = staging_loaded_files_relation() -%}
    {%- if adapter.get_relation(database=loaded.database, schema=loaded.schema, identifier=loaded.identifier) is none -%}
        {{ return({'mode': 'full', 'reason': 'no record of loaded files (' ~ loaded ~ ')', 'new_files': []}) }}
    {%- endif -%}
    {%- set landing = staging_landing_files_relation(spec) -%}
    {%- set changed = run_query(
        'select loaded.landing_file from ' ~ loaded ~ ' as loaded left join ' ~ landing ~ ' as landing'
        ~ ' on loaded.landing_file = landing.landing_file and loaded.file_size = landing.file_size'
        ~ ' and loaded.file_modified = landing.file_modified'
        ~ ' where landing.landing_file is null order by 1'
    ).columns[0].values() | list -%}
    {%- if changed -%}
        {{ return({'mode': 'full', 'reason': 'loaded file(s) changed or removed: ' ~ changed | join(', '), 'new_files': []}) }}
    {%- endif -%}
    {%- if spec.get('parent') -%}
        {#- A parent rebuilt in full since this model's last run (every row newer): rebuild too. -#}
        {%- set parent_rebuilt = run_query(
            'select count(*) = 0 from ' ~ ref(spec['parent'])
            ~ ' where batch_run_started_at <= (select max(batch_run_started_at) from ' ~ this ~ ')'
        ).rows[0][0] -%}
        {%- if parent_rebuilt -%}
            {{ return({'mode': 'full', 'reason': spec['parent'] ~ ' was rebuilt in full', 'new_files': []}) }}
        {%- endif -%}
    {%- endif -%}
    {%- set new_files = run_query(
        'select landing_file from ' ~ landing ~ ' where landing_file not in (select landing_file from '
        ~ loaded ~ ') order by 1'
    ).columns[0].values() | list -%}
    {{ return({'mode': 'incremental', 'reason': new_files | length ~ ' new file(s)', 'new_files': new_files}) }}
{% endmacro %}


{% macro staging_time_dependent_rows(spec) %}
    {#-
        Loaded rows whose status this run's as_of_date or load time changes: not yet visible
        and now visible (or the reverse when as_of_date moves back), and rows on either side of
        the future_timestamp cutoff that are not yet on that side.
    -#}
    {%- set time_column = spec['time_column'] -%}
    (
        (row_status = 'not_yet_visible' and {{ time_column }} < {{ visible_before_sql() }})
        or (row_status = 'staged' and {{ time_column }} >= {{ visible_before_sql() }})
        {%- if spec.get('future_check', true) %}
        or (quarantine_reason = 'future_timestamp' and {{ time_column }} <= {{ future_cutoff_sql() }})
        or (quarantine_reason is distinct from 'future_timestamp' and {{ time_column }} > {{ future_cutoff_sql() }})
        {%- endif %}
    )
{% endmacro %}


{% macro staging_parent_keys(spec) %}
    {#- Keys the parent re-classified since this model's last run. -#}
    select {{ spec['parent_key'] }} from {{ ref(spec['parent']) }}
    where batch_run_started_at > (select max(batch_run_started_at) from {{ this }})
{% endmacro %}


{% macro staging_incremental_plan() %}
    {#-
        What this run reads and re-classifies: {'mode', 'reason', 'new_files', 'read_files'}.
        read_files: the new files and the loaded files holding rows of an affected group.
    -#}
    {%- set plan = staging_incremental_mode() -%}
    {%- if plan['mode'] == 'full' -%}
        {%- if execute and this is not none and is_incremental() -%}
            {{ log(this.identifier ~ ': full rebuild (' ~ plan['reason'] ~ ')', info=True) }}
        {%- endif -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set spec = staging_incremental_spec() -%}
    {%- set key = spec['key'] -%}
    {%- set affected = [] -%}
    {%- if plan['new_files'] -%}
        {%- do affected.append(
            key ~ ' in (select ' ~ spec['key_expression'] ~ ' from ' ~ source(spec['source'][0], spec['source'][1])
            ~ ' where _landing_file in (' ~ staging_sql_list(plan['new_files']) ~ '))'
        ) -%}
    {%- endif -%}
    {%- if spec.get('parent') -%}
        {%- do affected.append(key ~ ' in (' ~ staging_parent_keys(spec) ~ ')') -%}
    {%- endif -%}
    {%- do affected.append(staging_time_dependent_rows(spec)) -%}
    {%- set loaded_files = run_query(
        'select distinct landing_file from ' ~ this ~ ' where ' ~ key ~ ' is not null and ('
        ~ affected | join(' or ') ~ ') order by 1'
    ).columns[0].values() | list -%}
    {%- set read_files = (plan['new_files'] + loaded_files) | unique | sort -%}
    {%- do plan.update({'read_files': read_files}) -%}
    {{ log(
        this.identifier ~ ': incremental, ' ~ plan['reason'] ~ ', reading ' ~ read_files | length
        ~ ' file(s): ' ~ read_files | join(', '), info=True
    ) }}
    {{ return(plan) }}
{% endmacro %}


{% macro staging_source_filter(plan) %}
    {#- Filter on the raw view: only the files this run reads (pruned before any file is opened). -#}
    {%- if plan['mode'] == 'full' -%}
        {{ return('true') }}
    {%- elif not plan['read_files'] -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return('_landing_file in (' ~ staging_sql_list(plan['read_files']) ~ ')') }}
{% endmacro %}


{% macro staging_batch_filter(plan, relation) %}
    {#-
        Filter on the parsed rows of the files read: every row of a new file, and every row
        of an affected group (a group with a row in a new file, with a loaded row whose status
        is time dependent, or re-classified in the parent).
    -#}
    {%- if plan['mode'] == 'full' -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set spec = staging_incremental_spec() -%}
    {%- set key = spec['key'] -%}
    {%- set terms = [] -%}
    {%- if plan['new_files'] -%}
        {%- set new_files = staging_sql_list(plan['new_files']) -%}
        {%- do terms.append('_landing_file in (' ~ new_files ~ ')') -%}
        {%- do terms.append(
            key ~ ' in (select ' ~ key ~ ' from ' ~ relation ~ ' where _landing_file in (' ~ new_files ~ '))'
        ) -%}
    {%- endif -%}
    {%- if spec.get('parent') -%}
        {%- do terms.append(key ~ ' in (' ~ staging_parent_keys(spec) ~ ')') -%}
    {%- endif -%}
    {%- do terms.append(
        key ~ ' in (select ' ~ key ~ ' from ' ~ this ~ ' where ' ~ key ~ ' is not null and '
        ~ staging_time_dependent_rows(spec) ~ ')'
    ) -%}
    {{ return('(' ~ terms | join('\n        or ') ~ ')') }}
{% endmacro %}


{% macro staging_incremental_reset() %}
    {#- Pre-hook: when an incremental run falls back to a full rebuild, empty the table first. -#}
    {%- if execute and this is not none and is_incremental() and staging_incremental_mode()['mode'] == 'full' -%}
        {{ return(staging_full_rebuild_reset_sql(this)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{% macro staging_record_landing_files() %}
    {#- Post-hook: every landing file is now loaded; record it with its size and modification time. -#}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(replace_table_as_sql(
        staging_loaded_files_relation(),
        'select * from ' ~ staging_landing_files_relation(staging_incremental_spec())
    )) }}
{% endmacro %}


{% macro staging_batch_run_started_at() %}
    {#- The start of this dbt run, stamped on every row a run (re)classifies. -#}
    {{ return("cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp)") }}
{% endmacro %}
