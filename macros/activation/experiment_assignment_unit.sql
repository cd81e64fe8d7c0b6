{% macro experiment_assignment_unit(salt, key) %}
    {#-
        A number in [0, 1) drawn from md5(salt || '|' || key): the first 13 hex digits (52 bits,
        exact in a double) divided by 2^52. A pure function of (salt, key): stable across runs,
        and md5 of the concatenated string makes different salts independent (DuckDB's
        hash(a, b) combines per-argument hashes, so two salts give correlated draws).
    -#}
    {{ return(adapter.dispatch('experiment_assignment_unit')(salt, key)) }}
{% endmacro %}
