"""flink/sql_runner.py: how SQL files become one job (pure Python, no Flink needed)."""

from __future__ import annotations

import pytest

from flink.sql_runner import plan, render, split_statements


def test_split_drops_comment_lines_and_splits_at_line_ending_semicolons():
    sql = """-- a comment; with a semicolon
SET 'a' = '1';
CREATE TABLE t (
  x STRING -- trailing comments stay inside the statement
) WITH ('k' = 'v;w');

INSERT INTO t SELECT 'x';"""
    assert split_statements(sql) == [
        "SET 'a' = '1'",
        "CREATE TABLE t (\n  x STRING -- trailing comments stay inside the statement\n) WITH ('k' = 'v;w')",
        "INSERT INTO t SELECT 'x'",
    ]


def test_render_fills_variables_and_names_a_missing_one():
    assert render("topic '${TOPIC}', path '$.tx_id'", {"TOPIC": "tx"}) == "topic 'tx', path '$.tx_id'"
    with pytest.raises(SystemExit, match=r"\$\{MISSING\}"):
        render("x ${MISSING}", {})


def test_plan_separates_settings_statements_and_inserts_across_files(tmp_path):
    (tmp_path / "a.sql").write_text(
        "-- comments may mention ${UNSET}\nSET 'pipeline.name' = '${NAME}';\nCREATE TABLE s (x INT);\n"
    )
    (tmp_path / "b.sql").write_text(
        "INSERT INTO k SELECT x FROM s;\nINSERT INTO i SELECT x FROM s;\nSET 'parallelism.default' = '4';\n"
    )
    settings, statements, inserts = plan(
        [tmp_path / "a.sql", tmp_path / "b.sql"], overrides={"parallelism.default": "2"}, variables={"NAME": "job"}
    )
    assert settings == {"pipeline.name": "job", "parallelism.default": "2"}
    assert statements == ["CREATE TABLE s (x INT)"]
    assert inserts == ["INSERT INTO k SELECT x FROM s", "INSERT INTO i SELECT x FROM s"]
