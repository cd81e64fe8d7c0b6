{% macro tested_since() %}
    {#-
        SQL for the start of the last run in which the running test passed (audit.test_passes,
        written by record_test_passes at the end of every run): rows a scoped test reads were
        written after it. The epoch-like floor '1900-01-01', so that every row is in scope, when
        there is no record yet, on --full-refresh, or with var tests__full_scope: true.
    -#}
    {%- set floor = "cast('1900-01-01 00:00:00' as timestamp)" -%}
    {%- set passes = test_passes_relation() -%}
    {%- if not execute or flags.FULL_REFRESH or var('tests__full_scope', false) -%}
        {{ return(floor) }}
    {%- endif -%}
    {%- if adapter.get_relation(database=passes.database, schema=passes.schema, identifier=passes.identifier) is none -%}
        {{ return(floor) }}
    {%- endif -%}
    {{ return(
        "(select coalesce(max(run_started_at), " ~ floor ~ ") from " ~ passes
        ~ " where test_id = '" ~ model.unique_id ~ "')"
    ) }}
{% endmacro %}


{% macro test_passes_relation() %}
    {{ return(api.Relation.create(database=target.database, schema='audit', identifier='test_passes')) }}
{% endmacro %}


{% macro record_test_passes(results) %}
    {#-
        on-run-end: one row (test unique_id, run start) per scoped test (a `new_rows_in`
        argument) that passed in this run. A test that failed, warned, errored or did not run
        leaves no row, so its next run still covers every row written since its last pass.
    -#}
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
