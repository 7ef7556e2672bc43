"""The fraud scoring job as one deployable unit: its SQL files, its scoring config, its name.

Used by the deploy DAG, the demo and the tests, so all of them submit the job the same way.
"""

from __future__ import annotations

from pathlib import Path

from include import aws, config
from include.flink_jobs import submit_sql
from include.flink_rest import FlinkRest, Job
from include.scoring.card_store import ensure_table

JOB_NAME = "fraud-scoring"
SQL_FILES = [config.REPO_ROOT / "flink" / "sql" / "catalog.sql",
             config.REPO_ROOT / "flink" / "sql" / "scoring_job.sql"]
DEFAULT_SCORING_CONFIG = config.REPO_ROOT / "include" / "config" / "scoring.yaml"
SCORING_CONFIG_PARAMETER = "scoring.config.b64"  # read by flink/udfs.py


def flink() -> FlinkRest:
    return FlinkRest(config.get("FLINK_REST_URL"))


def running(rest: FlinkRest | None = None) -> list[Job]:
    return (rest or flink()).running_jobs(JOB_NAME)


def submit(scoring_config: Path = DEFAULT_SCORING_CONFIG, parallelism: int | None = None,
           from_savepoint: str | None = None, settings: dict[str, str] | None = None) -> str:
    """Creates the DynamoDB table if needed and submits the job; returns the Flink job id."""
    ensure_table(aws.dynamodb_client(), config.get("DYNAMODB_CARD_TABLE"))
    job_settings = dict(settings or {})
    if parallelism:
        job_settings["parallelism.default"] = str(parallelism)
    return submit_sql(SQL_FILES, settings=job_settings, from_savepoint=from_savepoint,
                      job_files={SCORING_CONFIG_PARAMETER: Path(scoring_config)})
