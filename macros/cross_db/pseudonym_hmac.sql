{% macro pseudonym_hmac(value) %}
    {#- A SQL expression: the keyed pseudonym of `value` (a text SQL expression), lower-case hex
        HMAC-SHA-256 (RFC 2104) of its UTF-8 bytes under the key in the file named by env var
        SEGMENTS_PSEUDONYM_KEY_FILE; null for null. The key is read at run time by path, so
        compiled SQL and dbt's logs hold the path, never the key (docs/privacy.md). -#}
    {{ return(adapter.dispatch('pseudonym_hmac')(value)) }}
{% endmacro %}

{% macro default__pseudonym_hmac(value) %}
    {#- Raised when a model is compiled for running, not at parse time: the project still
        parses on other adapters, and the models without pseudonyms still run there. -#}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "pseudonym_hmac: no keyed hash known for adapter " ~ adapter.type()
            ~ "; add a " ~ adapter.type() ~ "__pseudonym_hmac macro in macros/cross_db/pseudonym_hmac.sql"
        ) }}
    {%- endif -%}
    null
{%- endmacro %}

{% macro duckdb__pseudonym_hmac(value) %}
    {#- HMAC = SHA256((K xor opad) || SHA256((K xor ipad) || m)), K zero-padded to the 64-byte
        block (keys are 32 to 64 bytes, so never hashed first); ipad = 0x36, opad = 0x5c per
        byte. DuckDB 2.0 has no hmac(): xor runs on BIT strings, sha256() returns hex. -#}
    {%- set key = duckdb__pseudonym_key_block() -%}
    sha256(
        xor({{ key }}::bit, repeat('01011100', 64)::bit)::blob
        || unhex(sha256(xor({{ key }}::bit, repeat('00110110', 64)::bit)::blob || encode({{ value }})))
    )
{%- endmacro %}

{% macro pseudonym_key_missing_message() %}
    {{- return(
        "no pseudonym key: set SEGMENTS_PSEUDONYM_KEY_FILE to a key file outside the repository;"
        ~ " create one with `segwarehouse keygen ~/.config/segwarehouse/pseudonym.key`"
        ~ " (or `openssl rand -hex 32 > FILE`)"
    ) -}}
{% endmacro %}

{% macro duckdb__pseudonym_key_block() %}
    {#- A scalar subquery: the key as a 64-byte BLOB (hex from the key file, whitespace
        ignored, zero-padded). Stops the query with one line when the variable is unset, the
        file is missing or empty (read_text gives no row), or it is not 32 to 64 bytes of hex;
        the messages name the file, never its content. -#}
    {%- set path = env_var('SEGMENTS_PSEUDONYM_KEY_FILE', '') | trim -%}
    {%- if not path -%}
        (select error('{{ pseudonym_key_missing_message() }}'))
    {%- else -%}
        {%- set quoted = path | replace("'", "''") -%}
        coalesce(
            (
                select
                    case
                        when regexp_full_match(key_file.key_hex, '([0-9a-fA-F]{2}){32,64}')
                            then unhex(rpad(key_file.key_hex, 128, '0'))
                        else error('pseudonym key file {{ quoted }} must hold 32 to 64 bytes as hex and nothing else')
                    end
                from (
                    select regexp_replace(content, '\s', '', 'g') as key_hex
                    from read_text('{{ quoted }}')
                ) as key_file
            ),
            error('pseudonym key file {{ quoted }} (SEGMENTS_PSEUDONYM_KEY_FILE) does not exist or is empty')
        )
    {%- endif -%}
{%- endmacro %}

{% macro require_pseudonym_key() %}
    {#- on-run-start hook: a `dbt run` / `dbt build` without a usable key stops before any model
        runs, with one line saying how to create one (instead of failing at the first model
        that publishes a pseudonym). Other commands (seed, test, compile) need no key. -#}
    {%- if execute and target.type == 'duckdb' and flags.WHICH in ['run', 'build'] -%}
        {%- if not (env_var('SEGMENTS_PSEUDONYM_KEY_FILE', '') | trim) -%}
            {{ exceptions.raise_compiler_error(pseudonym_key_missing_message()) }}
        {%- endif -%}
        select octet_length({{ duckdb__pseudonym_key_block() }}) as pseudonym_key_bytes
    {%- endif -%}
{%- endmacro %}

{% macro spark__pseudonym_hmac(value) %}
    {#- The same HMAC-SHA-256 in Spark SQL: sha2 over binary concatenations; the padded key
        blocks come from the key file at run time (spark__pseudonym_key_pad). -#}
    sha2(
        concat(
            {{ spark__pseudonym_key_pad(92) }},
            unhex(sha2(concat({{ spark__pseudonym_key_pad(54) }}, encode({{ value }}, 'UTF-8')), 256))
        ),
        256
    )
{%- endmacro %}

{% macro spark__pseudonym_key_pad(pad) %}
    {#- A scalar subquery: the 64-byte key block xor `pad` (54 = ipad 0x36, 92 = opad 0x5c) as
        BINARY, byte by byte over the hex digits. The key file is read with Spark's text source
        (one row per line, whitespace dropped); a key that is not 32 to 64 bytes of hex stops
        the query naming the file (a missing file stops it with Spark's PATH_NOT_FOUND). -#}
    {%- set path = env_var('SEGMENTS_PSEUDONYM_KEY_FILE', '') | trim -%}
    {%- if not path -%}
        (select raise_error('{{ pseudonym_key_missing_message() }}'))
    {%- else -%}
        {%- set quoted = path | replace('\\', '\\\\') | replace("'", "\\'") -%}
        (
            select unhex(concat_ws('', transform(
                sequence(0, 63),
                byte_index -> lpad(hex(
                    cast(conv(substr(key_file.key_hex, byte_index * 2 + 1, 2), 16, 10) as int) ^ {{ pad }}
                ), 2, '0')
            )))
            from (
                select
                    case
                        when key_lines.key_hex rlike '^([0-9a-fA-F]{2}){32,64}$'
                            then rpad(key_lines.key_hex, 128, '0')
                        else raise_error(
                            'pseudonym key file {{ quoted }} (SEGMENTS_PSEUDONYM_KEY_FILE) is empty or does not hold 32 to 64 bytes as hex'
                        )
                    end as key_hex
                from (
                    select regexp_replace(concat_ws('', collect_list(value)), '\\s', '') as key_hex
                    from text.`{{ path | replace('`', '``') }}`
                ) as key_lines
            ) as key_file
        )
    {%- endif -%}
{%- endmacro %}
