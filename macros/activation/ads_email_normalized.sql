{% macro ads_email_normalized(email, rule) %}
    {#-
        The email as an ads platform hashes it: trimmed and lower-case ('basic'); with
        rule 'google' also without the dots of the local part of gmail.com / googlemail.com
        addresses (Google Ads' documented normalisation). `rule` is a SQL expression, so the
        rule can come from a column (seed audience_destinations). '+tag' suffixes are kept:
        Google's rule names only the dots, and other domains treat '+' as part of the address.
    -#}
    case
        when nullif(lower(trim({{ email }})), '') is null then null
        when {{ rule }} = 'google'
            and split_part(lower(trim({{ email }})), '@', 2) in ('gmail.com', 'googlemail.com')
            then replace(split_part(lower(trim({{ email }})), '@', 1), '.', '')
                || '@' || split_part(lower(trim({{ email }})), '@', 2)
        else lower(trim({{ email }}))
    end
{% endmacro %}
