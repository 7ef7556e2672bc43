"""Submits SQL jobs (flink/sql_runner.py + .sql files) to the session cluster with the Flink CLI.

The CLI comes from the PyFlink wheel in the "flink" environment: a Python job is compiled by a Python
client, so submission cannot be a plain REST call. Everything it needs comes from platform settings.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from include import settings

SQL_RUNNER = settings.REPO_ROOT / "flink" / "sql_runner.py"


class SubmitError(RuntimeError):
    pass


def _needed_by_the_cli(name: str) -> bool:
    """The CLI logs the environment it hands the job's Python process, masking only names that say
    PASSWORD or SECRET: Airflow's connection URIs and the passwords it does not need stay out of it. It
    keeps the S3 keys (the client creates the Iceberg tables) and reads the JDBC password from PGPASSFILE."""
    return not name.startswith("AIRFLOW") and "PASSWORD" not in name and name != "TRINO_SHARED_SECRET"


def cli_environment() -> dict[str, str]:
    """The CLI's environment: FLINK_CONF_DIR, FLINK_LIB_DIR and FLINK_PLUGINS_DIR are platform settings."""
    s = settings.all_settings()
    log_dir = Path(s["LOG_DIR"]) / "flink"
    log_dir.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **s}
    return {
        **{name: value for name, value in environment.items() if _needed_by_the_cli(name)},
        "JAVA_HOME": s["JAVA17_HOME"],
        "FLINK_OPT_DIR": f"{s['FLINK_DIST']}/opt",
        "FLINK_LOG_DIR": str(log_dir),
        "PYTHONPATH": s["REPO_ROOT"],
    }


def _command(
    sql_files: list[Path],
    flink_config: dict[str, str] | None,
    from_savepoint: str | None,
    job_files: dict[str, Path] | None,
    allow_non_restored_state: bool = False,
) -> list[str]:
    cmd = [
        f"{settings.get('FLINK_DIST')}/bin/flink",
        "run",
        "--detached",
        "--jobmanager",
        settings.get("FLINK_REST_URL").split("://", 1)[-1],
    ]
    if settings.get("FLINK_REST_URL").startswith("https://"):
        # With --jobmanager the CLI speaks plain HTTP unless told again here (the configuration file's
        # security.ssl.rest.* still supply the certificates).
        cmd += ["-Dsecurity.ssl.rest.enabled=true"]
    if from_savepoint:
        cmd += ["--fromSavepoint", from_savepoint]
        cmd += ["--allowNonRestoredState"] if allow_non_restored_state else []
    cmd += ["--python", str(SQL_RUNNER)]
    cmd += [str(f) for f in sql_files]
    for key, value in (flink_config or {}).items():
        cmd += ["--set", f"{key}={value}"]
    for key, path in (job_files or {}).items():
        cmd += ["--job-param", f"{key}=@{path}"]
    return cmd


def _run(cmd: list[str], variables: dict[str, str] | None, timeout_s: float) -> str:
    env = {**cli_environment(), **(variables or {})}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        lines = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if not line.lstrip().startswith(("at ", "..."))
        ]  # Java stack frames say little here
        tail = "\n".join(lines[-40:])
        raise SubmitError(f"flink run failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def explain_sql(
    sql_files: list[Path],
    flink_config: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    job_files: dict[str, Path] | None = None,
    timeout_s: float = 300,
) -> str:
    """The optimized plan of the SQL files' statement set (nothing is submitted)."""
    cmd = _command(sql_files, flink_config, None, job_files) + ["--explain"]
    return _run(cmd, variables, timeout_s)


def submit_sql(
    sql_files: list[Path],
    flink_config: dict[str, str] | None = None,
    from_savepoint: str | None = None,
    variables: dict[str, str] | None = None,
    job_files: dict[str, Path] | None = None,
    allow_non_restored_state: bool = False,
    timeout_s: float = 300,
) -> str:
    """Submits the SQL files as one detached job; returns its job id.

    flink_config: Flink configuration overriding the files' SET statements; variables: values for ${NAME}
    in the SQL beyond the platform settings; job_files: files handed to the UDFs as job parameters;
    allow_non_restored_state: start from the savepoint even if some of its state belongs to no operator
    of the job (Flink drops that state; otherwise it refuses to start).
    """
    cmd = _command(sql_files, flink_config, from_savepoint, job_files, allow_non_restored_state)
    stdout = _run(cmd, variables, timeout_s)
    submitted = re.search(r"Job has been submitted with JobID ([0-9a-f]{32})", stdout)
    if not submitted:
        raise SubmitError(f"flink run printed no job id:\n{stdout[-3000:]}")
    return submitted.group(1)
