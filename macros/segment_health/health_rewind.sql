{% macro health_rewind() %}
    {#-
        Pre-hook of the incremental segment-health models (one batch of rows per as_of_date):
        deletes the rows of this as_of_date, so a rerun at the same date replaces its batch
        instead of adding a second one (idempotent). Renders nothing on the first run or a
        full refresh.
    -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where as_of_date = {{ as_of_date_sql() }}
    {%- endif -%}
{% endmacro %}
