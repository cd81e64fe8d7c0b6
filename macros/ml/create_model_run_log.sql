{% macro create_model_run_log() %}
    {#-
        The run log the dbt Python models append to (segwarehouse.ml.run_log, RUN_LOG_SCHEMA:
        keep the columns in step). Created before any model runs (on-run-start), so two
        Python models running at once only append to it; audit.model_runs reads it.
    -#}
    create schema if not exists audit;
    create table if not exists audit.ml_model_run_log (
        invocation_id varchar,
        model_name varchar,
        status varchar,
        reason varchar,
        output_rows bigint,
        seconds double,
        as_of_date date,
        recorded_at timestamp
    )
{% endmacro %}
