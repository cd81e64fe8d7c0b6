{% macro rfm_quintile_score(value_column, best='highest') %}
    {#-
        A 1–5 score by rank-based quintiles over the rows of the query it sits in (one row per
        scored customer): 1 + floor(5 × the share of rows strictly worse than this one).
        rank() gives equal values equal ranks, so equal values always get equal scores, and the
        score does not depend on row order; a very common value (one purchase day) takes the
        score of where its block of ties starts, so a score can be skipped. best: 'highest'
        (frequency, monetary) or 'lowest' (recency in days).
    -#}
    {%- if best not in ('highest', 'lowest') -%}
        {{ exceptions.raise_compiler_error("rfm_quintile_score: best must be 'highest' or 'lowest', got '" ~ best ~ "'.") }}
    {%- endif -%}
    {%- set worst_first = 'asc' if best == 'highest' else 'desc' -%}
    cast(1 + {{ integer_divide('5 * (rank() over (order by ' ~ value_column ~ ' ' ~ worst_first ~ ') - 1)', 'count(*) over ()') }} as integer)
{%- endmacro %}
