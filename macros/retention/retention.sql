{#-
    Retention limits (vars retention__*, documented in dbt_project.yml and docs/erasure.md),
    applied by post-hooks on every run. A limit of null keeps everything (the default).
-#}

{% macro retention_cutoff(var_name, unit) %}
    {#-
        The first day kept under var `var_name` (a whole number of `unit`: 'months' or 'days'
        before as_of_date), as 'YYYY-MM-DD'; none when the var is null. A month back from the
        31st lands on the last day of the shorter month.
    -#}
    {%- set limit = var(var_name, none) -%}
    {%- if limit is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if limit is not number or limit < 1 or limit != limit | int -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ var_name ~ " must be a whole number of " ~ unit ~ " of at least 1, or null "
            ~ "(keep everything); got " ~ limit ~ ". Fix it in dbt_project.yml or --vars."
        ) }}
    {%- endif -%}
    {%- set as_of = modules.datetime.date.fromisoformat(as_of_date()) -%}
    {%- if unit == 'days' -%}
        {{ return((as_of - modules.datetime.timedelta(days=limit | int)).isoformat()) }}
    {%- endif -%}
    {%- set months = as_of.year * 12 + as_of.month - 1 - limit | int -%}
    {%- set year = months // 12 -%}
    {%- set month = months % 12 + 1 -%}
    {%- set next_month = modules.datetime.date(year + month // 12, month % 12 + 1, 1) -%}
    {%- set last_day = (next_month - modules.datetime.timedelta(days=1)).day -%}
    {{ return(modules.datetime.date(year, month, [as_of.day, last_day] | min).isoformat()) }}
{% endmacro %}


{% macro staging_retention_expire(time_column, var_name) %}
    {#-
        Post-hook of a staging base table: rows dated before the retention cutoff become
        `expired` tombstones (every column null but row_status, landing_file and
        batch_run_started_at), so the landing-file record and audit.source_reconciliation
        still add up.
    -#}
    {%- if not execute or this is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set cutoff = retention_cutoff(var_name, 'months') -%}
    {%- if cutoff is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set blanked = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- if column.name not in ['row_status', 'landing_file', 'batch_run_started_at'] -%}
            {%- do blanked.append(adapter.quote(column.name) ~ ' = null') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(
        'update ' ~ this ~ " set row_status = 'expired', " ~ blanked | join(', ')
        ~ ' where ' ~ time_column ~ " < cast('" ~ cutoff ~ "' as timestamp)"
    ) }}
{% endmacro %}


{% macro history_retention_delete(date_column, var_name) %}
    {#- Post-hook of a history table: delete the rows whose `date_column` is before the cutoff. -#}
    {%- if not execute or this is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set cutoff = retention_cutoff(var_name, 'days') -%}
    {%- if cutoff is none -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(
        'delete from ' ~ this ~ ' where ' ~ date_column ~ " < cast('" ~ cutoff ~ "' as date)"
    ) }}
{% endmacro %}
