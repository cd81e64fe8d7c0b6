{% macro health_require_history_at_as_of_date() %}
    {#-
        segment_health and segment_migration read this run's entries and exits from
        segment_membership_history: it must have been built at this as_of_date (its latest
        last_seen_on). Otherwise (a health model selected on its own at another date) the
        counts would silently describe another run, so the build stops. Checked only in
        run / build, once the history exists.
    -#}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set history = load_relation(ref('segment_membership_history')) -%}
        {%- if history is not none -%}
            {%- set recorded = run_query('select cast(max(last_seen_on) as varchar) from ' ~ history) -%}
            {%- set recorded_through = recorded.columns[0].values()[0] -%}
            {%- if recorded_through is not none and recorded_through != as_of_date() -%}
                {{ exceptions.raise_compiler_error(
                    model.name ~ ": segment_membership_history was last built at " ~ recorded_through
                    ~ ", not at as_of_date " ~ as_of_date() ~ ". Build segment_membership_history "
                    ~ "(or `dbt build --select segment_membership_history+`) at this as_of_date first."
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
