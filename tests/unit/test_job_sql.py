"""The job's SQL files agree with the Python side: every feature has a column (named in the UDF's
order), the INSERT fills the table's columns in order, and the benchmark's SQL-only variant provides
the same columns; every ${NAME} the SQL uses is set."""

from __future__ import annotations

import re

from flink.udf_output import BIGINT_FIELDS, DOUBLE_FIELDS, STRING_FIELDS
from include import config
from include.scoring.features import FEATURES

SQL = config.REPO_ROOT / "flink" / "sql" / "scoring"


def _table_columns(ddl: str, table: str) -> list[str]:
    body = re.search(rf"{table} \((.*?)\n\) ", ddl, re.DOTALL).group(1)
    return [line.split()[0] for line in body.splitlines()
            if line.strip() and not line.strip().startswith("--")]


def _insert_columns(inserts: str, table: str) -> list[str]:
    select = re.search(rf"INSERT INTO \S+{table}[^\n]*\nSELECT (.*?)\nFROM scored", inserts, re.DOTALL).group(1)
    return [item.strip().split(" AS ")[-1] for item in re.split(r",(?![^(]*\))", select)]


def test_every_feature_is_a_column_of_scored_transactions():
    columns = _table_columns((SQL / "3_sinks.sql").read_text(), "scored_transactions")
    assert set(FEATURES) <= set(columns)


def test_insert_fills_the_table_columns_in_order():
    columns = _table_columns((SQL / "3_sinks.sql").read_text(), "scored_transactions")
    assert _insert_columns((SQL / "6_inserts.sql").read_text(), "scored_transactions") == columns


def test_sql_only_benchmark_variant_has_every_feature_column():
    variant = (config.REPO_ROOT / "bench" / "sql" / "scoring_without_udf.sql").read_text()
    for feature in FEATURES:
        assert re.search(rf"\b{feature}\b", variant), feature


def test_scored_view_names_every_array_element_in_udf_order():
    view = (SQL / "5_scored_view.sql").read_text()
    times = {"event_ms": "event_time", "scored_ms": "scored_at", "kafka_ms": "kafka_ts"}
    for array, fields in (("strings", STRING_FIELDS), ("doubles", DOUBLE_FIELDS), ("bigints", BIGINT_FIELDS)):
        named = re.findall(rf"s\.{array}\[(\d+)\](?:, 3\)| AS INT\))? AS (\w+)", view)
        assert [int(i) for i, _ in named] == list(range(1, len(fields) + 1)), array
        assert [name for _, name in named] == [times.get(f, f) for f in fields], array


def test_every_feature_travels_in_the_udf_result():
    assert set(FEATURES) <= set(DOUBLE_FIELDS)


def test_a_savepoint_restores_whatever_the_parallelism():
    """Operator ids must not depend on chaining (see 1_job_settings.sql): planner uids on, and every Iceberg
    writer, whose connector sets no uid, at a fixed parallelism."""
    assert "SET 'table.exec.uid.generation' = 'ALWAYS';" in (SQL / "1_job_settings.sql").read_text()
    iceberg_inserts = re.findall(r"^INSERT INTO \$\{ICEBERG_CATALOG_NAME\}.*$", (SQL / "6_inserts.sql").read_text(),
                                 re.MULTILINE)
    assert len(iceberg_inserts) == 3
    for insert in iceberg_inserts:
        assert "/*+ OPTIONS('write-parallelism' = '1') */" in insert, insert


def test_every_variable_the_sql_uses_is_set():
    """The runner renders every file with the platform's settings and the job's variables (it exits on a
    ${NAME} it has no value for); feedback timestamps get the schema's own pattern."""
    from flink.sql_runner import plan
    from include.scoring_job import SQL_FILES, Deployment
    from include.transactions import UTC_TIMESTAMP_PATTERN

    _, statements, _ = plan(SQL_FILES, {}, {**config.settings(), **Deployment.platform().sql_variables()})
    [feedback] = [s for s in statements if "VIEW feedback_fields" in s]
    assert feedback.count(f"'^{UTC_TIMESTAMP_PATTERN}$'") == 2
