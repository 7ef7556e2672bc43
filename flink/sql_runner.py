"""Runs Flink SQL files as one streaming job on the session cluster.

Submitted by `flink run -py flink/sql_runner.py -- <file.sql>...` (see include/flink_jobs.py). The files
are executed in order: `SET 'key' = 'value';` sets job configuration, every INSERT joins one statement
set (one job, one consistent checkpoint across all sinks), every other statement (CREATE CATALOG,
CREATE TABLE, CREATE FUNCTION, ...) runs as it comes. `${NAME}` in the SQL is replaced by the
environment variable NAME (the platform settings), so endpoints never live in the SQL.
"""

from __future__ import annotations

import argparse
import os
import re
import string
from pathlib import Path

_SET = re.compile(r"^SET\s+'([^']+)'\s*=\s*'([^']*)'$", re.IGNORECASE | re.DOTALL)


def split_statements(sql: str) -> list[str]:
    """Statements of a SQL script: full-line `--` comments dropped, split at a `;` ending a line."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


def render(sql: str, variables: dict[str, str]) -> str:
    try:
        return string.Template(sql).substitute(variables)
    except KeyError as missing:
        raise SystemExit(f"SQL uses ${{{missing.args[0]}}}, which is not set in the environment") from None


def plan(files: list[Path], overrides: dict[str, str], variables: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(job settings, other statements in order, INSERT statements) for the given files."""
    settings: dict[str, str] = {}
    statements: list[str] = []
    inserts: list[str] = []
    for path in files:
        for statement in split_statements(render(path.read_text(), variables)):
            if match := _SET.match(statement):
                settings[match.group(1)] = match.group(2)
            elif statement.upper().startswith("INSERT"):
                inserts.append(statement)
            else:
                statements.append(statement)
    settings.update(overrides)
    return settings, statements, inserts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="job setting overriding the SQL's SET statements (e.g. parallelism.default=2)")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    settings, statements, inserts = plan(args.files, overrides, dict(os.environ))
    if not inserts:
        raise SystemExit("no INSERT statement: nothing to run")

    from pyflink.table import EnvironmentSettings, TableEnvironment

    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in settings.items():
        table_env.get_config().set(key, value)
    for statement in statements:
        table_env.execute_sql(statement)
    statement_set = table_env.create_statement_set()
    for insert in inserts:
        statement_set.add_insert_sql(insert)
    statement_set.execute()


if __name__ == "__main__":
    main()
