{% macro retrain_anchor_date(every_days) %}
    {#-
        The retrain anchor of as_of_date as 'YYYY-MM-DD': the latest day on or before
        as_of_date whose distance from Monday 1970-01-05 is a whole number of `every_days`
        periods (7: the Monday of as_of_date's week; 1: as_of_date). Models trained on data as
        of the anchor see the same training rows on every day of a period, so a daily refresh
        can keep the period's fit (segwarehouse.ml.model_cache computes the same in Python).
    -#}
    {%- set period = every_days | int -%}
    {%- if period < 1 -%}
        {{ exceptions.raise_compiler_error(
            "the retraining period must be a whole number of days >= 1, got '" ~ every_days
            ~ "' (var ml__retrain_every_days in dbt_project.yml)."
        ) }}
    {%- endif -%}
    {%- set day = modules.datetime.date.fromisoformat(as_of_date()) -%}
    {%- set since_epoch = (day - modules.datetime.date(1970, 1, 5)).days -%}
    {{ return((day - modules.datetime.timedelta(days=since_epoch % period)).isoformat()) }}
{% endmacro %}
