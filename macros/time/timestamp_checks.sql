{% macro timestamp_checks(column, parse_checks=true, future_check=true) %}
    {#-
        The staging checks of a timestamp, as first_failing_check pairs in order: with
        parse_checks, missing (`<column>_text` is null: missing_<column>) and unparseable
        (`<column>` is null: unparseable_<column>); with future_check, after the load time
        plus tolerance (future_timestamp); before the earliest plausible date
        (implausibly_old_timestamp); a placeholder value (placeholder_timestamp).
    -#}
    {%- set checks = [] -%}
    {%- if parse_checks -%}
        {%- do checks.append([column ~ '_text is null', 'missing_' ~ column]) -%}
        {%- do checks.append([column ~ ' is null', 'unparseable_' ~ column]) -%}
    {%- endif -%}
    {%- if future_check -%}
        {%- do checks.append([column ~ ' > ' ~ future_cutoff_sql(), 'future_timestamp']) -%}
    {%- endif -%}
    {%- do checks.append([column ~ ' < ' ~ earliest_plausible_sql(), 'implausibly_old_timestamp']) -%}
    {%- do checks.append([is_placeholder_timestamp(column), 'placeholder_timestamp']) -%}
    {{ return(checks) }}
{% endmacro %}
