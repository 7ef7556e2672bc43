"""The job's SQL, rendered as the runner renders it, agrees with the Python side: every ${NAME} is set,
the verdict view names each element of the UDF's arrays once and in order, the scored_transactions
INSERT fills the table's columns in order with every feature, and the benchmark's variants provide the
same view."""

from __future__ import annotations

import re

import pytest

from flink.sql_runner import plan
from include import settings
from include.scoring.feature_names import FEATURES
from include.scoring.verdict_layout import BIGINT_FIELDS, DOUBLE_FIELDS, STRING_FIELDS, TIME_COLUMNS
from include.scoring_job import SQL_DIR, SQL_FILES, Deployment


def rendered(files=SQL_FILES) -> tuple[dict[str, str], list[str], list[str]]:
    return plan(files, {}, {**settings.all_settings(), **Deployment.platform().sql_variables()})


def _statement(statements: list[str], start: str) -> str:
    [found] = [s for s in statements if s.startswith(start)]
    return found


def _table_columns(ddl: str) -> list[str]:
    lines = ddl[ddl.index("(") + 1 :].splitlines()
    body = lines[: next(i for i, line in enumerate(lines) if line.startswith(")"))]
    return [line.strip().split()[0] for line in body if line.strip()]


def _top_level_items(select: str) -> list[str]:
    """The items of a select list: split at commas outside parentheses and quotes."""
    items, depth, quoted, current = [], 0, False, ""
    for char in select:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            items.append(current.strip())
            current = ""
            continue
        current += char
    return [*items, current.strip()]


def _view_columns(view: str) -> list[str]:
    select = view[view.index("SELECT") + 6 : view.rindex("\nFROM")]
    return [item.split(" AS ")[-1].strip() for item in _top_level_items(select)]


def test_every_variable_the_sql_uses_is_set():
    """The runner exits on a ${NAME} it has no value for; nothing is left unrendered but the Kafka
    client's own `${env:NAME}` references (its config provider reads them on the cluster)."""
    _, statements, inserts = rendered()
    assert not [s for s in statements + inserts if "${" in s.replace("${env:KAFKA_PASSWORD}", "")]


def test_the_verdict_view_names_every_array_element_once_in_udf_order():
    _, statements, _ = rendered()
    columns = [
        c.strip()
        for c in _statement(statements, "CREATE TEMPORARY VIEW verdicts")
        .split("SELECT", 1)[1]
        .split("\nFROM")[0]
        .split(",\n")
    ]
    elements = [(re.search(r"v\.(\w+)\[(\d+)\]", c).groups(), c.split(" AS ")[-1]) for c in columns if "[" in c]
    for array, fields in (("strings", STRING_FIELDS), ("doubles", DOUBLE_FIELDS), ("bigints", BIGINT_FIELDS)):
        named = [(int(i), name) for (a, i), name in elements if a == array][: len(fields)]
        assert named == [(i, TIME_COLUMNS.get(f, f)) for i, f in enumerate(fields, 1)], array


def test_scored_transactions_insert_fills_the_table_columns_in_order_with_every_feature():
    _, statements, inserts = rendered()
    columns = _table_columns(_statement(statements, "CREATE TABLE IF NOT EXISTS lakehouse.fraud.scored_transactions"))
    assert set(FEATURES) <= set(columns)
    insert = _statement(inserts, "INSERT INTO lakehouse.fraud.scored_transactions")
    select = insert[insert.index("SELECT") + 6 : insert.index("\nFROM verdicts")]
    assert [item.split(" AS ")[-1].strip() for item in _top_level_items(select)] == columns


def test_every_feature_and_time_travels_in_the_udf_result():
    assert set(FEATURES) <= set(DOUBLE_FIELDS)
    assert set(TIME_COLUMNS) <= set(BIGINT_FIELDS)


@pytest.mark.parametrize("design", ["naive", "no-udf"])
def test_benchmark_designs_provide_the_verdict_view(design):
    """A design swaps the UDF step (bench/benchmark.py DESIGNS); every sink must find its columns."""
    from bench.benchmark import job_files

    _, statements, _ = rendered()
    _, design_statements, _ = rendered(job_files(design))
    assert _view_columns(_statement(design_statements, "CREATE TEMPORARY VIEW verdicts")) == _view_columns(
        _statement(statements, "CREATE TEMPORARY VIEW verdicts")
    )


def test_a_savepoint_restores_whatever_the_parallelism():
    """Operator ids must not depend on chaining (see 1_job_settings.sql): planner uids on, and every Iceberg
    writer, whose connector sets no uid, at a fixed parallelism."""
    assert "SET 'table.exec.uid.generation' = 'ALWAYS';" in (SQL_DIR / "scoring" / "1_job_settings.sql").read_text()
    _, _, inserts = rendered()
    iceberg_inserts = [i for i in inserts if i.startswith("INSERT INTO lakehouse.")]
    assert len(iceberg_inserts) == 4
    for insert in iceberg_inserts:
        assert "/*+ OPTIONS('write-parallelism' = '1') */" in insert.splitlines()[0], insert


def test_every_kafka_sink_and_topic_takes_the_platform_maximum_record_size():
    _, statements, _ = rendered()
    sinks = [s for s in statements if "'connector' = 'kafka'" in s and "sink." in s]
    assert len(sinks) == 2
    for sink in sinks:
        assert f"'properties.max.request.size' = '{settings.get('KAFKA_MAX_MESSAGE_BYTES')}'" in sink
    for _, topic_config in Deployment.platform().topics().values():
        assert topic_config["max.message.bytes"] == settings.get("KAFKA_MAX_MESSAGE_BYTES")


def test_every_iceberg_table_bounds_its_metadata_files():
    """New tables through the catalog's table defaults, the tables created before them through ALTER."""
    _, statements, _ = rendered()
    [catalog] = [s for s in statements if s.startswith("CREATE CATALOG")]
    kept = settings.get("ICEBERG_METADATA_VERSIONS_KEPT")
    assert "'table-default.write.metadata.delete-after-commit.enabled' = 'true'" in catalog
    assert f"'table-default.write.metadata.previous-versions-max' = '{kept}'" in catalog
    altered = [s.split()[2] for s in statements if s.startswith("ALTER TABLE")]
    assert altered == ["lakehouse.fraud.scored_transactions", "lakehouse.fraud.fraud_feedback"]
