{% macro duckdb__experiment_assignment_unit(salt, key) %}
    {#- DuckDB: a '0x' hex literal casts to UBIGINT (52 bits: exact in the double division). -#}
    cast(('0x' || left(md5({{ salt }} || '|' || {{ key }}), 13)) as ubigint) / 4503599627370496.0
{%- endmacro %}

{% macro spark__experiment_assignment_unit(salt, key) %}
    {#- Spark: conv from base 16; a double divided by the decimal literal is a double division. -#}
    cast(conv(left(md5({{ salt }} || '|' || {{ key }}), 13), 16, 10) as double) / 4503599627370496.0
{%- endmacro %}
