{#-
    The raw layer on Spark (docs/scale_out.md): the same relations as duckdb__register_raw_sources
    (register_raw_sources.sql) from the same landing folder, read by Spark's own readers. Every
    contract column is a string, `_landing_file` is the path as DuckDB writes it
    (SEGMENTS_RAW_DIR as given, then the file), and a missing, empty, non-UTF-8 or headerless
    landing file stops the run with the DuckDB path's message (the shared *_message macros).

    Each landing file is an external table <raw schema>_files.<source>__<n> (Spark's csv or
    parquet reader over the file; dropping it leaves the file alone), and raw.<source> a view
    over the union of the contract selects of those tables: a permanent view cannot read a
    temporary one. raw.<source>__landing_files lists the files with their size and modification
    time (binaryFile, which reads no content unless asked).
-#}

{% macro spark__register_raw_sources() %}
    {#- SEGMENTS_SPARK_INPUTS=registered: the session holds a DuckDB build's exported relations
        (segwarehouse.scale_out.register_inputs), raw included; no landing file is read. -#}
    {%- if not execute or flags.WHICH == 'seed' or env_var('SEGMENTS_SPARK_INPUTS', '') == 'registered' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set raw_dir = env_var('SEGMENTS_RAW_DIR', 'data/raw').rstrip('/') -%}
    {%- set listing = spark__landing_listing(raw_dir) -%}
    {%- for node in graph.sources.values() if node.meta.get('landing_file') -%}
        {%- do spark__register_raw_source(node, raw_dir, listing) -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}


{% macro spark__absolute_path(path) %}
    {#- `path` made absolute against the JVM's working directory (where Spark resolves a
        relative path), `.` and `..` segments resolved: the form Spark's file listing prints. -#}
    {%- if not path.startswith('/') -%}
        {%- set cwd = run_query("select reflect('java.lang.System', 'getProperty', 'user.dir')").rows[0][0] -%}
        {%- set path = cwd ~ '/' ~ path -%}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for part in path.split('/') if part not in ['', '.'] -%}
        {%- if part == '..' -%}
            {%- if parts -%}{%- do parts.pop() -%}{%- endif -%}
        {%- else -%}
            {%- do parts.append(part) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('/' ~ parts | join('/')) }}
{% endmacro %}


{% macro spark__landing_listing(raw_dir) %}
    {#-
        {path relative to raw_dir: size in bytes} of every file under the landing folder, in one
        listing (Spark's file index; names starting with `_` or `.` are hidden from it, and a
        0-byte file has no split to scan, so it is missing here: an empty optional file reads
        as absent, an empty required one as not found). A missing folder stops the run with
        Spark's PATH_NOT_FOUND naming it.
    -#}
    {%- set root = spark__absolute_path(raw_dir) -%}
    {%- do run_query(
        'create or replace temporary view segments__landing_listing using binaryFile options (path '
        ~ string_literal(root) ~ ", recursiveFileLookup 'true')"
    ) -%}
    {%- set listing = {} -%}
    {%- for row in run_query('select path, length from segments__landing_listing').rows -%}
        {%- set path = modules.re.sub('^file:/*', '/', row[0]) -%}
        {%- if path.startswith(root ~ '/') -%}
            {%- do listing.update({path[root | length + 1:]: row[1]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(listing) }}
{% endmacro %}


{% macro spark__find_landing_files(raw_dir, file_name, listing) %}
    {#- find_landing_files over the folder's listing: the same files, the same refusals. -#}
    {%- set singles = [] -%}
    {%- for extension in ['csv', 'parquet'] if (file_name ~ '.' ~ extension) in listing -%}
        {%- do singles.append(raw_dir ~ '/' ~ file_name ~ '.' ~ extension) -%}
    {%- endfor -%}
    {%- set in_folder = [] -%}
    {%- for relative in listing.keys() | sort -%}
        {%- set name = relative[file_name | length + 1:] -%}
        {%- if relative.startswith(file_name ~ '/') and '/' not in name
            and (name.endswith('.csv') or name.endswith('.parquet')) -%}
            {%- do in_folder.append(raw_dir ~ '/' ~ relative) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(checked_landing_files(raw_dir, file_name, singles, in_folder)) }}
{% endmacro %}


{% macro spark__file_lines(path) %}
    {#- The physical lines of a file (Spark's text reader: one row per line, bytes as they are),
        each with its split and its position in it, so that lines can be numbered in file order
        (splits are read in any order; within a split the ids are consecutive). -#}
    (
        select
            value,
            input_file_block_start() as block_start,
            monotonically_increasing_id() as line_id
        from text.`{{ path | replace('`', '``') }}`
    )
{%- endmacro %}


{% macro spark__check_landing_file_encoding(path) %}
    {#- check_landing_file_encoding on Spark: count the lines that are not valid UTF-8 and
        number the first one (line 1 is the header), with the same message. -#}
    {%- set checked = run_query(
        'with lines as (select block_start, line_id, is_valid_utf8(value) as ok from '
        ~ spark__file_lines(path) ~ '), '
        ~ 'blocks as (select block_start, count(*) as lines, min(line_id) as first_id, '
        ~ 'min(case when not ok then line_id end) as first_bad_id, count_if(not ok) as bad_lines '
        ~ 'from lines group by block_start), '
        ~ 'numbered as (select *, coalesce(sum(lines) over (order by block_start rows between '
        ~ 'unbounded preceding and 1 preceding), 0) as lines_before from blocks) '
        ~ 'select coalesce(sum(bad_lines), 0), '
        ~ 'min(lines_before + first_bad_id - first_id + 1) from numbered'
    ) -%}
    {%- set bad_lines, first_line = checked.rows[0][0], checked.rows[0][1] -%}
    {%- if bad_lines > 0 -%}
        {{ exceptions.raise_compiler_error(landing_file_encoding_message(path, first_line, bad_lines)) }}
    {%- endif -%}
{% endmacro %}


{% macro spark__csv_header_columns(path) %}
    {#- The columns named by a CSV's first line, read as plain text (as landing_file_columns). -#}
    {%- set header = run_query(
        'select value from ' ~ spark__file_lines(path) ~ ' as lines order by block_start, line_id limit 1'
    ) -%}
    {{ return(header_line_columns(header.rows[0][0] if header.rows else '')) }}
{% endmacro %}


{% macro spark__landing_file_table(path, table, required_columns, size) %}
    {#-
        Create `table` over one landing file; returns the columns found in it. CSV: every
        header column as a string in file order (the header line is skipped, not matched:
        enforceSchema), the contract's dialect (comma, double quote escaped by doubling,
        quoted line breaks), FAILFAST so that a ragged line stops the query naming the file,
        as DuckDB's read_csv does. Parquet: its own schema.
    -#}
    {%- do run_query('drop table if exists ' ~ table) -%}
    {%- if path.endswith('.parquet') -%}
        {%- do run_query('create table ' ~ table ~ ' using parquet options (path ' ~ string_literal(path) ~ ')') -%}
        {%- set relation = api.Relation.create(schema=table.split('.')[0], identifier=table.split('.')[1]) -%}
        {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) }}
    {%- endif -%}
    {%- if size == 0 -%}
        {{ exceptions.raise_compiler_error(landing_file_empty_message(path, required_columns)) }}
    {%- endif -%}
    {%- if var('dq__check_csv_encoding', true) -%}
        {%- do spark__check_landing_file_encoding(path) -%}
    {%- endif -%}
    {%- set found_columns = spark__csv_header_columns(path) -%}
    {%- set columns = [] -%}
    {%- for column in found_columns -%}
        {%- do columns.append(adapter.quote(column) ~ ' string') -%}
    {%- endfor -%}
    {%- do run_query(
        'create table ' ~ table ~ ' (' ~ columns | join(', ') ~ ') using csv options (path '
        ~ string_literal(path) ~ ", header 'true', enforceSchema 'true', sep ',', quote '\"', "
        ~ "escape '\"', multiLine 'true', mode 'FAILFAST', encoding 'UTF-8')"
    ) -%}
    {{ return(found_columns) }}
{% endmacro %}


{% macro spark__register_raw_source(node, raw_dir, listing) %}
    {#- register_raw_source on Spark: raw.<source> and raw.<source>__landing_files. -#}
    {%- set file_name = node.meta['landing_file'] -%}
    {%- set paths = spark__find_landing_files(raw_dir, file_name, listing) -%}
    {%- set contract_columns = raw_contract_columns(node) -%}
    {%- set required_columns = raw_contract_columns(node, required_only=true) -%}
    {%- if not paths and node.meta.get('required_file') -%}
        {{ exceptions.raise_compiler_error(
            landing_file_missing_message(raw_dir, file_name)
            ~ " (Spark's file listing does not see 0-byte files: an empty file is reported here too.)"
        ) }}
    {%- endif -%}

    {%- set files_schema = adapter.quote(node.schema ~ '_files') -%}
    {%- do run_query('create database if not exists ' ~ adapter.quote(node.schema)) -%}
    {%- do run_query('create database if not exists ' ~ files_schema) -%}
    {%- set bodies = [] -%}
    {%- set files_bodies = [] -%}
    {%- for path in paths -%}
        {%- set table = files_schema ~ '.' ~ adapter.quote(node.identifier ~ '__' ~ loop.index) -%}
        {%- set size = listing[path[raw_dir | length + 1:]] -%}
        {%- set found_columns = spark__landing_file_table(path, table, required_columns, size) -%}
        {%- do bodies.append(contract_select(
            table, path, contract_columns, required_columns, found_columns,
            text_type='string', path_literal=string_literal(path)
        )) -%}
        {%- do files_bodies.append(
            'select ' ~ string_literal(path) ~ ' as landing_file, length as file_size, '
            ~ 'modificationTime as file_modified from binaryFile.`' ~ path | replace('`', '``') ~ '`'
        ) -%}
    {%- endfor -%}
    {%- if not paths -%}
        {%- do bodies.append(empty_contract_select(contract_columns, text_type='string')) -%}
        {%- do files_bodies.append(
            'select cast(null as string) as landing_file, cast(null as bigint) as file_size, '
            ~ 'cast(null as timestamp) as file_modified where false'
        ) -%}
    {%- endif -%}

    {%- set schema_sql = adapter.quote(node.schema) -%}
    {%- do run_query(
        'create or replace view ' ~ schema_sql ~ '.' ~ adapter.quote(node.identifier) ~ ' as\n'
        ~ bodies | join('\nunion all\n')
    ) -%}
    {%- do run_query(
        'create or replace view ' ~ schema_sql ~ '.' ~ adapter.quote(node.identifier ~ '__landing_files')
        ~ ' as\n' ~ files_bodies | join('\nunion all\n')
    ) -%}
    {{ log('raw.' ~ node.identifier ~ ' <- ' ~ (paths | join(', ') if paths else '(absent: empty)'), info=False) }}
{% endmacro %}
