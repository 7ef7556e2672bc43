"""Runs Flink SQL files as one streaming job on the session cluster.

Submitted by `flink run -py flink/sql_runner.py -- <file.sql>...` (see include/flink_jobs.py). The files
are executed in order: `SET 'key' = 'value';` sets job configuration, every INSERT joins one statement
set (one job, one consistent checkpoint across all sinks), every other statement (CREATE CATALOG,
CREATE TABLE, CREATE FUNCTION, ...) runs as it comes. `${NAME}` in the SQL is replaced by the
environment variable NAME (the platform settings), so endpoints never live in the SQL.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
from pathlib import Path

_SET = re.compile(r"^SET\s+'([^']+)'\s*=\s*'([^']*)'$", re.IGNORECASE | re.DOTALL)


def split_statements(sql: str) -> list[str]:
    """Statements of a SQL script: full-line `--` comments dropped, split at a `;` ending a line."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(sql: str, variables: dict[str, str]) -> str:
    """Replaces ${NAME} (only that form: JSON paths such as '$.tx_id' stay as they are)."""

    def value(match: re.Match) -> str:
        if match.group(1) not in variables:
            raise SystemExit(f"SQL uses ${{{match.group(1)}}}, which is not set in the environment")
        return variables[match.group(1)]

    return _VARIABLE.sub(value, sql)


def plan(
    files: list[Path], overrides: dict[str, str], variables: dict[str, str]
) -> tuple[dict[str, str], list[str], list[str]]:
    """(job settings, other statements in order, INSERT statements) for the given files."""
    settings: dict[str, str] = {}
    statements: list[str] = []
    inserts: list[str] = []
    for path in files:
        for statement in (render(s, variables) for s in split_statements(path.read_text())):
            if match := _SET.match(statement):
                settings[match.group(1)] = match.group(2)
            elif statement.upper().startswith("INSERT"):
                inserts.append(statement)
            else:
                statements.append(statement)
    settings.update(overrides)
    return settings, statements, inserts


def encode_job_parameters(items: list[str]) -> str:
    """`KEY=@FILE` items as Flink's map syntax, KEY:<base64 of FILE> (base64 has no ':' nor ',')."""
    pairs = []
    for item in items:
        key, _, source = item.partition("=@")
        if not source:
            raise SystemExit(f"--job-param takes KEY=@FILE, got {item!r}")
        pairs.append(f"{key}:{base64.b64encode(Path(source).read_bytes()).decode()}")
    return ",".join(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="job setting overriding the SQL's SET statements (e.g. parallelism.default=2)",
    )
    parser.add_argument("--explain", action="store_true", help="print the optimized plan instead of running it")
    parser.add_argument(
        "--job-param",
        action="append",
        default=[],
        metavar="KEY=@FILE",
        help="a file's content, base64-encoded, as a global job parameter the UDFs read",
    )
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    if args.job_param:
        overrides["pipeline.global-job-parameters"] = encode_job_parameters(args.job_param)
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
    if args.explain:
        print(statement_set.explain())
        return
    statement_set.execute()


if __name__ == "__main__":
    main()
