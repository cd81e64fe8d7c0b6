{% macro as_of_date() %}
    {#-
        The as_of_date var as 'YYYY-MM-DD' (a string), defaulting to the UTC date the run
        started. Inclusive: everything dated on or before this day is visible.
    -#}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error(
            "var as_of_date must be a date written YYYY-MM-DD, got '" ~ value ~ "'."
        ) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}


{% macro as_of_date_sql() %}
    {#- as_of_date as a SQL date literal. -#}
    {{ return("cast('" ~ as_of_date() ~ "' as date)") }}
{% endmacro %}


{% macro visible_before_sql() %}
    {#- Exclusive upper bound of what is visible: midnight UTC after as_of_date, as a SQL timestamp. -#}
    {%- set next_day = modules.datetime.date.fromisoformat(as_of_date()) + modules.datetime.timedelta(days=1) -%}
    {{ return("cast('" ~ next_day.isoformat() ~ " 00:00:00' as timestamp)") }}
{% endmacro %}


{% macro future_cutoff_sql() %}
    {#-
        Timestamps after this are in the future relative to the load: the load time (var
        segments__loaded_at, 'YYYY-MM-DD HH:MM:SS' UTC; default the run start) plus
        segments__future_tolerance_hours of clock-skew tolerance.
    -#}
    {%- set loaded_at = var('segments__loaded_at', none) -%}
    {%- if loaded_at is none or (loaded_at | string | trim) == '' -%}
        {%- set loaded_at = run_started_at.replace(tzinfo=none) -%}
    {%- else -%}
        {%- set loaded_at = modules.datetime.datetime.fromisoformat(loaded_at | string | trim) -%}
    {%- endif -%}
    {%- set cutoff = loaded_at + modules.datetime.timedelta(hours=var('segments__future_tolerance_hours')) -%}
    {{ return("cast('" ~ cutoff.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)") }}
{% endmacro %}


{% macro earliest_plausible_sql() %}
    {#- Timestamps before this are implausible (var segments__earliest_plausible_date). -#}
    {{ return("cast('" ~ var('segments__earliest_plausible_date') ~ " 00:00:00' as timestamp)") }}
{% endmacro %}
