{% macro ads_phone_normalized(phone, phone_format) %}
    {#-
        The phone as an ads platform hashes it, from an E.164 value ('+' then 7 to 15 digits,
        as staging writes it): 'e164' keeps the '+' (Google), 'e164_digits' drops it (Meta).
        Anything that is not E.164 gives null rather than a hash no platform can match.
        `phone_format` is a SQL expression (seed audience_destinations).
    -#}
    case
        when not {{ regexp_full_match("coalesce(trim(" ~ phone ~ "), '')", '\\+[1-9][0-9]{6,14}') }} then null
        when {{ phone_format }} = 'e164_digits' then substr(trim({{ phone }}), 2)
        else trim({{ phone }})
    end
{% endmacro %}
