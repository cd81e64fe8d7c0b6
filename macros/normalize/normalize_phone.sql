{% macro normalize_phone(phone, calling_code) %}
    {{ return(adapter.dispatch('normalize_phone', 'segments')(phone, calling_code)) }}
{% endmacro %}

{% macro default__normalize_phone(phone, calling_code) %}
    {#-
        E.164-style '+<digits>'. Keeps only digits; an explicit '+' or a leading '00' means the
        number is already international; otherwise a national number gets the country's calling
        code (a leading trunk '0' is dropped; NANP numbers with a leading 1 keep it).
        Null when there are no digits or no calling code to complete a national number.
    -#}
    case
        when nullif(regexp_replace(coalesce({{ phone }}, ''), '[^0-9]', '', 'g'), '') is null
            then null
        when trim({{ phone }}) like '+%'
            then '+' || regexp_replace({{ phone }}, '[^0-9]', '', 'g')
        when regexp_replace({{ phone }}, '[^0-9]', '', 'g') like '00%'
            then '+' || substr(regexp_replace({{ phone }}, '[^0-9]', '', 'g'), 3)
        when {{ calling_code }} = '1'
            and length(regexp_replace({{ phone }}, '[^0-9]', '', 'g')) = 11
            and regexp_replace({{ phone }}, '[^0-9]', '', 'g') like '1%'
            then '+' || regexp_replace({{ phone }}, '[^0-9]', '', 'g')
        when regexp_replace({{ phone }}, '[^0-9]', '', 'g') like '0%'
            then '+' || {{ calling_code }} || substr(regexp_replace({{ phone }}, '[^0-9]', '', 'g'), 2)
        else '+' || {{ calling_code }} || regexp_replace({{ phone }}, '[^0-9]', '', 'g')
    end
{% endmacro %}
