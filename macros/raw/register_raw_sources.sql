{% macro register_raw_sources() %}
    {#- The on-run-start hook: the landing files as raw.<source> relations, per engine
        (duckdb__ below, spark__ in register_raw_sources_spark.sql). -#}
    {{ return(adapter.dispatch('register_raw_sources')()) }}
{% endmacro %}


{% macro duckdb__register_raw_sources() %}
    {#-
        Validate the landing folder (env var SEGMENTS_RAW_DIR, default data/raw) against the
        raw-data contract declared in the sources YAML and expose each landing file as a view
        in the `raw` schema, every contract column as text. Runs as an on-run-start hook, so
        `dbt build` alone is enough. Stops the run with one line naming the file and column
        when the contract is broken.
    -#}
    {#- Seeds do not read the landing folder: `dbt seed` works before any data has landed. -#}
    {%- if not execute or flags.WHICH == 'seed' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set raw_dir = env_var('SEGMENTS_RAW_DIR', 'data/raw').rstrip('/') -%}
    {%- for node in graph.sources.values() if node.meta.get('landing_file') -%}
        {%- do register_raw_source(node, raw_dir) -%}
    {%- endfor -%}
{% endmacro %}


{% macro register_raw_source(node, raw_dir) %}
    {#-
        A source lands either as one file (<raw_dir>/<landing_file>.csv or .parquet) or as a
        folder of deliveries (<raw_dir>/<landing_file>/*.csv|*.parquet, e.g. one file per day);
        never both. Every file is checked against the contract on its own (errors name the
        file) and raw.<source> is the union of the files, each row tagged with its file in
        `_landing_file`. raw.<source>__landing_files lists the files with their size and
        modification time (what the incremental base models compare to what they loaded).
    -#}
    {%- set file_name = node.meta['landing_file'] -%}
    {%- set paths = find_landing_files(raw_dir, file_name) -%}
    {%- set contract_columns = raw_contract_columns(node) -%}
    {%- set required_columns = raw_contract_columns(node, required_only=true) -%}

    {%- if not paths and node.meta.get('required_file') -%}
        {{ exceptions.raise_compiler_error(landing_file_missing_message(raw_dir, file_name)) }}
    {%- endif -%}

    {%- if not paths -%}
        {%- set body = empty_contract_select(contract_columns) -%}
        {%- set files_body = "select cast(null as varchar) as landing_file, cast(null as bigint) as file_size, "
            ~ "cast(null as timestamp with time zone) as file_modified where false" -%}
    {%- else -%}
        {%- set bodies = [] -%}
        {%- for path in paths -%}
            {%- if path.endswith('.csv') and var('dq__check_csv_encoding', true) -%}
                {%- do check_landing_file_encoding(path) -%}
            {%- endif -%}
            {%- set found_columns = landing_file_columns(path, required_columns) -%}
            {%- set reader = landing_file_reader(path, found_columns) -%}
            {%- do bodies.append(contract_select(reader, path, contract_columns, required_columns, found_columns)) -%}
        {%- endfor -%}
        {%- set body = bodies | join('\nunion all\n') -%}
        {%- set literals = [] -%}
        {%- for path in paths -%}
            {%- do literals.append(sql_string_literal(path)) -%}
        {%- endfor -%}
        {%- set files_body = "select filename as landing_file, size as file_size, last_modified as file_modified "
            ~ "from read_blob([" ~ literals | join(', ') ~ "])" -%}
    {%- endif -%}

    {%- set schema_sql = adapter.quote(node.database) ~ '.' ~ adapter.quote(node.schema) -%}
    {%- do run_query('create schema if not exists ' ~ schema_sql) -%}
    {%- do run_query(
        'create or replace view ' ~ schema_sql ~ '.' ~ adapter.quote(node.identifier) ~ ' as\n' ~ body
    ) -%}
    {%- do run_query(
        'create or replace view ' ~ schema_sql ~ '.' ~ adapter.quote(node.identifier ~ '__landing_files')
        ~ ' as\n' ~ files_body
    ) -%}
    {{ log('raw.' ~ node.identifier ~ ' <- ' ~ (paths | join(', ') if paths else '(absent: empty)'), info=False) }}
{% endmacro %}


{% macro raw_contract_columns(node, required_only=false) %}
    {#- A raw source's contract column names in YAML order; only the required ones (meta
        `required`) with required_only (both engines). -#}
    {%- set names = [] -%}
    {%- for column in node.columns.values() if not required_only or column.meta.get('required') -%}
        {%- do names.append(column.name) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{% macro landing_file_missing_message(raw_dir, file_name) %}
    {{ return(
        "Raw-data contract: required file '" ~ file_name ~ "' not found: expected "
        ~ raw_dir ~ "/" ~ file_name ~ ".csv or .parquet, or a folder " ~ raw_dir ~ "/" ~ file_name
        ~ "/ of .csv / .parquet deliveries (set SEGMENTS_RAW_DIR to your landing folder)."
    ) }}
{% endmacro %}


{% macro find_landing_files(raw_dir, file_name) %}
    {#-
        The landing files of a source, in name order: [the one file], the files of its folder,
        or [] when absent (checked_landing_files).
    -#}
    {%- set singles = [] -%}
    {%- for extension in ['csv', 'parquet'] -%}
        {%- set path = raw_dir ~ '/' ~ file_name ~ '.' ~ extension -%}
        {%- set found = run_query('select count(*) from glob(' ~ sql_string_literal(path) ~ ')') -%}
        {%- if found.rows[0][0] > 0 -%}
            {%- do singles.append(path) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set folder = raw_dir ~ '/' ~ file_name -%}
    {%- set listed = run_query(
        'select file from glob(' ~ sql_string_literal(folder ~ '/*.csv') ~ ') union all '
        ~ 'select file from glob(' ~ sql_string_literal(folder ~ '/*.parquet') ~ ') order by file'
    ) -%}
    {%- set in_folder = listed.columns[0].values() | list -%}
    {{ return(checked_landing_files(raw_dir, file_name, singles, in_folder)) }}
{% endmacro %}


{% macro checked_landing_files(raw_dir, file_name, singles, in_folder) %}
    {#-
        `singles` (<name>.csv / <name>.parquet found) or else `in_folder` (the folder's files,
        in name order). Refuses a source present both as a file and as a folder, a single file
        in both formats, and a delivery in a folder in both formats.
    -#}
    {%- set folder = raw_dir ~ '/' ~ file_name -%}
    {%- if singles | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "Raw-data contract: both " ~ singles | join(' and ') ~ " exist; keep exactly one file per source."
        ) }}
    {%- endif -%}
    {%- if singles and in_folder -%}
        {{ exceptions.raise_compiler_error(
            "Raw-data contract: source '" ~ file_name ~ "' lands both as the file " ~ singles[0]
            ~ " and as the folder " ~ folder ~ "/ (" ~ in_folder | length ~ " file(s)); keep one layout: "
            ~ "move the file into the folder as one more delivery, or remove the folder."
        ) }}
    {%- endif -%}
    {%- set deliveries = {} -%}
    {%- for path in in_folder -%}
        {%- set delivery = path.rsplit('.', 1)[0] -%}
        {%- if delivery in deliveries -%}
            {{ exceptions.raise_compiler_error(
                "Raw-data contract: both " ~ deliveries[delivery] ~ " and " ~ path
                ~ " exist; keep exactly one file per delivery."
            ) }}
        {%- endif -%}
        {%- do deliveries.update({delivery: path}) -%}
    {%- endfor -%}
    {{ return(singles if singles else in_folder) }}
{% endmacro %}


{% macro landing_file_columns(path, required_columns) %}
    {#-
        Column names of a landing file. For CSV the header line is read as plain text (no
        dialect sniffing, which can mistake a ragged data line for the header); a 0-byte file
        is refused with the columns it needs.
    -#}
    {%- if path.endswith('.parquet') -%}
        {%- set described = run_query('describe select * from read_parquet(' ~ sql_string_literal(path) ~ ')') -%}
        {{ return(described.columns['column_name'].values() | list) }}
    {%- endif -%}
    {%- set size = run_query('select size from read_blob(' ~ sql_string_literal(path) ~ ')') -%}
    {%- if size.rows[0][0] == 0 -%}
        {{ exceptions.raise_compiler_error(landing_file_empty_message(path, required_columns)) }}
    {%- endif -%}
    {%- set header = run_query(
        'select line from read_csv(' ~ sql_string_literal(path) ~ ", header = false, auto_detect = false, "
        ~ "columns = {'line': 'varchar'}, delim = chr(31), quote = '', escape = '', parallel = false) limit 1"
    ) -%}
    {{ return(header_line_columns(header.rows[0][0])) }}
{% endmacro %}


{% macro landing_file_empty_message(path, required_columns) %}
    {{ return(
        "Raw-data contract: " ~ path ~ " is empty (0 bytes): write at least the header line ("
        ~ required_columns | join(', ') ~ ") or remove the file if the source is optional."
    ) }}
{% endmacro %}


{% macro header_line_columns(line) %}
    {#- Column names of a CSV header line: split on commas, BOM, quotes and spaces trimmed. -#}
    {%- set columns = [] -%}
    {%- for name in (line or '').split(',') -%}
        {%- do columns.append(name.strip().strip('\ufeff').strip('"').strip()) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{% macro check_landing_file_encoding(path) %}
    {#-
        Stop on a CSV that is not UTF-8, naming the first bad line. Every physical line is read
        as one text value (no quotes, no delimiter) with DuckDB's rejects table on, so the scan
        does not fail on the first bad byte and the line numbers are those an editor shows.
        Refusing the file, rather than quarantining its bad lines, is deliberate: one byte in
        the wrong encoding means the whole export used another code page, and guessing it could
        change every accented value silently (docs/raw_data_contract.md).
    -#}
    {%- do run_query('drop table if exists temp.dq_encoding_rejects') -%}
    {%- do run_query('drop table if exists temp.dq_encoding_scans') -%}
    {%- do run_query(
        'select count(*) from read_csv(' ~ sql_string_literal(path) ~ ", header = false, auto_detect = false, "
        ~ "columns = {'line': 'varchar'}, delim = chr(31), quote = '', escape = '', "
        ~ "ignore_errors = true, store_rejects = true, rejects_table = 'dq_encoding_rejects', "
        ~ "rejects_scan = 'dq_encoding_scans')"
    ) -%}
    {%- set rejected = run_query(
        "select count(*), min(line) from temp.dq_encoding_rejects where error_type = 'INVALID ENCODING'"
    ) -%}
    {%- set bad_lines, first_line = rejected.rows[0][0], rejected.rows[0][1] -%}
    {%- if bad_lines > 0 -%}
        {{ exceptions.raise_compiler_error(landing_file_encoding_message(path, first_line, bad_lines)) }}
    {%- endif -%}
{% endmacro %}


{% macro landing_file_encoding_message(path, first_line, bad_lines) %}
    {{ return(
        "Raw-data contract: " ~ path ~ " is not UTF-8: line " ~ first_line
        ~ " has bytes that are not valid UTF-8 (" ~ bad_lines ~ " such line(s) in the file). "
        ~ "Re-export the file as UTF-8 (or convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8); "
        ~ "nothing was loaded."
    ) }}
{% endmacro %}


{% macro landing_file_reader(path, found_columns) %}
    {#-
        The table-function call that reads a landing file, every value as text. CSV follows the
        contract's dialect (comma, double quotes, header line) with no guessing, so a ragged line
        fails with its line number instead of being misread.
    -#}
    {%- if path.endswith('.parquet') -%}
        {{ return('read_parquet(' ~ sql_string_literal(path) ~ ')') }}
    {%- endif -%}
    {%- set column_types = [] -%}
    {%- for column in found_columns -%}
        {%- do column_types.append(sql_string_literal(column) ~ ": 'varchar'") -%}
    {%- endfor -%}
    {{ return(
        'read_csv(' ~ sql_string_literal(path) ~ ', header = true, auto_detect = false, '
        ~ "delim = ',', quote = '\"', escape = '\"', columns = {" ~ column_types | join(', ') ~ '})'
    ) }}
{% endmacro %}


{% macro contract_select(reader, path, contract_columns, required_columns, found_columns, text_type='varchar', path_literal=none) %}
    {#- Select the contract columns (matched case-insensitively) as text (`text_type`); absent
        optional columns read as null. `path_literal`: the path as this engine's literal. -#}
    {%- set by_name = {} -%}
    {%- for column in found_columns -%}
        {%- do by_name.update({column | trim | lower: column}) -%}
    {%- endfor -%}
    {%- for column in required_columns if column not in by_name -%}
        {{ exceptions.raise_compiler_error(
            "Raw-data contract: " ~ path ~ " has no column '" ~ column ~ "' (required). Found: "
            ~ found_columns | join(', ') ~ ". Add or rename the column (names are case-insensitive)."
        ) }}
    {%- endfor -%}
    {%- set expressions = [] -%}
    {%- for column in contract_columns -%}
        {%- if column in by_name -%}
            {%- do expressions.append('cast(' ~ adapter.quote(by_name[column]) ~ ' as ' ~ text_type ~ ') as ' ~ column) -%}
        {%- else -%}
            {%- do expressions.append('cast(null as ' ~ text_type ~ ') as ' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do expressions.append((path_literal or sql_string_literal(path)) ~ ' as _landing_file') -%}
    {{ return('select\n    ' ~ expressions | join(',\n    ') ~ '\nfrom ' ~ reader) }}
{% endmacro %}


{% macro empty_contract_select(contract_columns, text_type='varchar') %}
    {#- A typed, empty stand-in for an optional source whose file is absent. -#}
    {%- set expressions = [] -%}
    {%- for column in contract_columns -%}
        {%- do expressions.append('cast(null as ' ~ text_type ~ ') as ' ~ column) -%}
    {%- endfor -%}
    {%- do expressions.append('cast(null as ' ~ text_type ~ ') as _landing_file') -%}
    {{ return('select\n    ' ~ expressions | join(',\n    ') ~ '\nwhere false') }}
{% endmacro %}


{% macro sql_string_literal(value) %}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}
