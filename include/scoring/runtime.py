"""What a scoring worker needs besides its records, and the clients it builds from it.

include/scoring_job.py submits each instance of the job with two global job parameters (base64:
Flink's parameter map cannot hold ':' or ','): the scoring config file, and the instance's runtime
(topics, card table, budgets), as JSON. The UDF (flink/udfs.py) and the benchmark's scorers read them
through this module, so none of them imports the deployment code.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from include import aws, kafka_config, settings
from include.scoring import config as scoring_config
from include.scoring.card_store import DynamoCardStore, ensure_table
from include.scoring.config import ScoringConfig
from include.scoring.feedback import FeedbackIndex
from include.scoring.feedback_feed import FeedbackFeed, FeedbackSnapshots

SCORING_CONFIG_PARAMETER = "scoring.config.b64"
RUNTIME_PARAMETER = "scoring.runtime.b64"


def decode(job_parameter: Callable[[str, str], str]) -> tuple[ScoringConfig, dict]:
    """The scoring config and the runtime, from the job's parameters (`FunctionContext.get_job_parameter`)."""
    runtime = json.loads(base64.b64decode(job_parameter(RUNTIME_PARAMETER, "")))
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "scoring.yaml"
        config_file.write_bytes(base64.b64decode(job_parameter(SCORING_CONFIG_PARAMETER, "")))
        return scoring_config.load(config_file), runtime


def card_store(runtime: dict) -> DynamoCardStore:
    """The instance's card-history store (its tables created if missing). botocore's own retries are off:
    the store retries, and counts every request."""
    dynamodb = aws.dynamodb_client(retries={"total_max_attempts": 1}, max_pool_connections=4)
    ensure_table(dynamodb, runtime["card_table"])
    return DynamoCardStore(dynamodb, runtime["card_table"], max_attempts=runtime["dynamodb_max_attempts"])


def feedback_snapshots(feedback_topic: str) -> FeedbackSnapshots:
    return FeedbackSnapshots(
        aws.s3_client(), settings.get("SCORING_STATE_BUCKET"), settings.get("SCORING_STATE_PREFIX"), feedback_topic
    )


def feedback_side_input(runtime: dict, scoring: ScoringConfig) -> tuple[FeedbackIndex, FeedbackFeed]:
    """Every confirmed fraud the features may still count, read before the first record is scored."""
    index = FeedbackIndex(keep_ms=scoring.feedback_keep_ms)
    feed = FeedbackFeed(
        kafka_config.client_config(), runtime["feedback_topic"], index, feedback_snapshots(runtime["feedback_topic"])
    )
    feed.catch_up()
    return index, feed
