{% macro health_refuse_earlier_as_of_date() %}
    {#-
        Stops the build when this incremental model already holds a later as_of_date than the
        one being built: its rows compare each run with the one before, so history only moves
        forward (as segment_membership_history does). Build the dates in order, or
        --full-refresh and replay them.
    -#}
    {%- if execute and is_incremental() -%}
        {%- set recorded = run_query('select cast(max(as_of_date) as varchar) from ' ~ this) -%}
        {%- set recorded_through = recorded.columns[0].values()[0] -%}
        {%- if recorded_through is not none and recorded_through > as_of_date() -%}
            {{ exceptions.raise_compiler_error(
                this.identifier ~ " is recorded through " ~ recorded_through ~ "; as_of_date "
                ~ as_of_date() ~ " is earlier. History only moves forward: build the dates in order, "
                ~ "or rebuild it with --full-refresh and replay them."
            ) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
