{% macro first_failing_check(checks) %}
    {#-
        Reason code of the first failing check, or null when all pass. `checks` is a list of
        [condition_that_means_bad, reason_code] pairs, evaluated in order: write them from the
        most to the least fundamental defect so each bad row gets the one reason that explains it.
    -#}
    case
        {%- for condition, reason in checks %}
        when {{ condition }} then '{{ reason }}'
        {%- endfor %}
    end
{% endmacro %}
