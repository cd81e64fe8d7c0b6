{#-
    How an engine applies an incremental run of a staging base model (macros/staging/
    incremental_staging.sql, docs/incremental.md). DuckDB deletes the re-classified groups by
    their key and inserts them again (delete+insert); dbt-spark's parquet tables have no
    delete (merge and delete need delta), so on Spark every run classifies every landing file
    and insert_overwrite replaces the whole table: the rows a full build gives, which are the
    rows DuckDB's delete+insert chain gives (the incremental tests hold the two equal).
-#}

{% macro staging_incremental_strategy() %}
    {#- The dbt incremental_strategy of the staging base models. -#}
    {{ return(adapter.dispatch('staging_incremental_strategy')()) }}
{% endmacro %}

{% macro default__staging_incremental_strategy() %}
    {{ return('delete+insert') }}
{% endmacro %}

{% macro spark__staging_incremental_strategy() %}
    {#- Without partition_by: `insert overwrite table` of the whole table. -#}
    {{ return('insert_overwrite') }}
{% endmacro %}


{% macro staging_incremental_batches() %}
    {#- Whether an incremental run may re-classify only the groups its new files touch (true)
        or must select every row of the table (false: the strategy replaces the table). -#}
    {{ return(adapter.dispatch('staging_incremental_batches')()) }}
{% endmacro %}

{% macro default__staging_incremental_batches() %}
    {{ return(true) }}
{% endmacro %}

{% macro spark__staging_incremental_batches() %}
    {{ return(false) }}
{% endmacro %}


{% macro staging_full_rebuild_reset_sql(relation) %}
    {#- Pre-hook SQL of an incremental run that falls back to a full rebuild: empty the table. -#}
    {{ return(adapter.dispatch('staging_full_rebuild_reset_sql')(relation)) }}
{% endmacro %}

{% macro default__staging_full_rebuild_reset_sql(relation) %}
    {{ return('delete from ' ~ relation) }}
{% endmacro %}

{% macro spark__staging_full_rebuild_reset_sql(relation) %}
    {#- Nothing to empty: insert_overwrite replaces every row (and parquet tables have no delete). -#}
    {{ return('') }}
{% endmacro %}


{% macro replace_table_as_sql(relation, sql) %}
    {#- Hook SQL that (re)creates `relation` as the rows of `sql`. -#}
    {{ return(adapter.dispatch('replace_table_as_sql')(relation, sql)) }}
{% endmacro %}

{% macro default__replace_table_as_sql(relation, sql) %}
    {{ return('create or replace table ' ~ relation ~ ' as ' ~ sql) }}
{% endmacro %}

{% macro spark__replace_table_as_sql(relation, sql) %}
    {#- `create or replace table ... as` needs a v2 (delta) table: the parquet table is dropped
        while the hook renders, then created. -#}
    {%- if execute -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- endif -%}
    {{ return('create table ' ~ relation ~ ' using parquet as ' ~ sql) }}
{% endmacro %}
