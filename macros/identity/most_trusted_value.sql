{% macro most_trusted_value(column, rank_column='record_rank') %}
    {#- Aggregate: the non-null value of `column` from the best-ranked record (rank 1 = most trusted). -#}
    arg_min({{ column }}, {{ rank_column }}) filter (where {{ column }} is not null)
{% endmacro %}
