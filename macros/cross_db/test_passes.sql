{#-
    Where the scoped grain tests (`new_rows_in` of `unique` and `unique_combination_of_columns`,
    macros/tests/) find the start of their last pass. DuckDB keeps the passes in
    audit.test_passes, appended by the on-run-end hook record_test_passes. Spark keeps no
    record (its parquet tables are replaced by every run of the staging base models, so every
    row is new there anyway): the tests check every row.
-#}

{% macro tested_since() %}
    {#- SQL for the start of the last run in which the running test passed; the floor
        1900-01-01 (every row in scope) without a record. -#}
    {{ return(adapter.dispatch('tested_since')()) }}
{% endmacro %}

{% macro default__tested_since() %}
    {%- set floor = "cast('1900-01-01 00:00:00' as timestamp)" -%}
    {%- if not execute or flags.FULL_REFRESH or var('tests__full_scope', false) -%}
        {{ return(floor) }}
    {%- endif -%}
    {%- set passes = test_passes_relation() -%}
    {%- if adapter.get_relation(database=passes.database, schema=passes.schema, identifier=passes.identifier) is none -%}
        {{ return(floor) }}
    {%- endif -%}
    {{ return(
        "(select coalesce(max(run_started_at), " ~ floor ~ ") from " ~ passes
        ~ " where test_id = '" ~ model.unique_id ~ "')"
    ) }}
{% endmacro %}

{% macro spark__tested_since() %}
    {{ return("cast('1900-01-01 00:00:00' as timestamp)") }}
{% endmacro %}


{% macro test_passes_relation() %}
    {{ return(api.Relation.create(database=target.database, schema='audit', identifier='test_passes')) }}
{% endmacro %}


{% macro record_test_passes(results) %}
    {#- on-run-end SQL: record the scoped tests that passed in this run. -#}
    {{ return(adapter.dispatch('record_test_passes')(results)) }}
{% endmacro %}

{% macro default__record_test_passes(results) %}
    {#- One row (test unique_id, run start) per scoped test that passed in this run. A test
        that failed, warned, errored or did not run gets no row, so its next run still covers
        every row written since its last pass. -#}
    {%- set passed = [] -%}
    {%- for result in results -%}
        {%- set test = graph.nodes.get(result.node.unique_id) or {} -%}
        {%- set arguments = (test.get('test_metadata') or {}).get('kwargs') or {} -%}
        {%- if result.status == 'pass' and arguments.get('new_rows_in') is not none -%}
            {%- do passed.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set passes = test_passes_relation() -%}
    create schema if not exists {{ passes.schema }};
    create table if not exists {{ passes }} (test_id varchar, run_started_at timestamp);
    {%- if passed %}
    insert into {{ passes }}
    select test_id, {{ staging_batch_run_started_at() }}
    from (values {% for test_id in passed %}('{{ test_id }}'){{ ', ' if not loop.last }}{% endfor %}) as t (test_id);
    {%- endif %}
{% endmacro %}

{% macro spark__record_test_passes(results) %}
    {{ return('') }}
{% endmacro %}
