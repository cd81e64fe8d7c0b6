{% macro health_incremental_config() %}
    {#-
        The config of the incremental health models, for `config(**health_incremental_config())`:
        appended one as_of_date at a time, forward only, a rerun at the same date replacing its
        rows (pre-hook health_rewind).
    -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': '{{ health_rewind() }}',
    }) }}
{% endmacro %}


{% macro health_incremental_guards(require_history=true) %}
    {#-
        The checks an incremental health model runs before it builds: no later as_of_date
        recorded (health_refuse_earlier_as_of_date) and, with require_history, the membership
        history built at this as_of_date (health_require_history_at_as_of_date).
    -#}
    {%- do health_refuse_earlier_as_of_date() -%}
    {%- if require_history -%}
        {%- do health_require_history_at_as_of_date() -%}
    {%- endif -%}
{% endmacro %}
