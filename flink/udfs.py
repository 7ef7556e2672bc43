"""The scoring UDF: a vectorized (pandas) Python function over raw Kafka records.

Registered in flink/sql/scoring/4_function.sql as `score_transactions`. It is declared non-deterministic (it
writes card histories to DynamoDB), which also keeps the planner from copying the call into each
sink's branch: the job evaluates it once per record, and every sink reads the one result.

The scoring itself lives in include/scoring (plain Python, unit tested); this module only adapts
Arrow batches to it and exposes metrics.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import tempfile
from pathlib import Path

import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from flink.udf_output import output_arrays
from include import aws, config
from include.scoring import config as scoring_config
from include.scoring import model as model_store
from include.scoring.card_store import DynamoCardStore, ensure_table
from include.scoring.config import ScoringConfig
from include.scoring.feedback import FeedbackIndex
from include.scoring.feedback_feed import FeedbackFeed
from include.scoring.scorer import ALERT, SCORED, BatchScorer, Result, SourceRecord
from include.scoring_job import RUNTIME_PARAMETER, SCORING_CONFIG_PARAMETER

log = logging.getLogger(__name__)

# The result: three arrays, one element per field (why: flink/udf_output.py); the SQL view names them.
OUTPUT_TYPE = DataTypes.ROW([DataTypes.FIELD("strings", DataTypes.ARRAY(DataTypes.STRING())),
                             DataTypes.FIELD("doubles", DataTypes.ARRAY(DataTypes.DOUBLE())),
                             DataTypes.FIELD("bigints", DataTypes.ARRAY(DataTypes.BIGINT()))])


def to_frame(results: list[Result], model_version: str, config_version: int) -> pd.DataFrame:
    """One row per result: the columns strings, doubles and bigints of OUTPUT_TYPE."""
    rows = [output_arrays(r, model_version, config_version) for r in results]
    strings, doubles, bigints = zip(*rows) if rows else ((), (), ())
    # Object series: pandas would otherwise look into the lists.
    return pd.DataFrame({"strings": pd.Series(strings, dtype=object), "doubles": pd.Series(doubles, dtype=object),
                         "bigints": pd.Series(bigints, dtype=object)})


def job_parameters(function_context: FunctionContext) -> tuple[ScoringConfig, dict]:
    """The scoring config and the instance's names, as include/scoring_job.py submitted them."""
    runtime = json.loads(base64.b64decode(function_context.get_job_parameter(RUNTIME_PARAMETER, "")))
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "scoring.yaml"
        config_file.write_bytes(base64.b64decode(function_context.get_job_parameter(SCORING_CONFIG_PARAMETER, "")))
        return scoring_config.load(config_file), runtime


def feedback_side_input(runtime: dict) -> tuple[FeedbackIndex, FeedbackFeed]:
    """Every confirmed fraud so far, read before the first record is scored."""
    index = FeedbackIndex()
    feed = FeedbackFeed(config.get("KAFKA_BOOTSTRAP"), runtime["feedback_topic"], index)
    feed.catch_up()
    return index, feed


class ScoreTransactions(ScalarFunction):
    def open(self, function_context: FunctionContext) -> None:
        self.config, runtime = job_parameters(function_context)
        dynamodb = aws.dynamodb_client(retries={"total_max_attempts": 1}, max_pool_connections=4)
        ensure_table(dynamodb, runtime["card_table"])
        self.store = DynamoCardStore(dynamodb, runtime["card_table"], max_attempts=runtime["dynamodb_max_attempts"])
        self.feedback, self.feed = feedback_side_input(runtime)
        model = model_store.load(self.config.model_uri, aws.s3_client()) if self.config.model_uri else None
        self.scorer = BatchScorer(self.config, self.store, self.feedback, model)
        self.topic = runtime["transactions_topic"]

        metrics = function_context.get_metric_group().add_group("fraud")
        self.records = metrics.counter("records_scored")
        self.rejected = metrics.counter("records_rejected")
        self.alerts = metrics.counter("alerts")
        self.batches = metrics.counter("batches")
        self.dynamodb_requests = metrics.counter("dynamodb_requests")
        self._requests_reported = 0
        metrics.gauge("feedback_records", lambda: len(self.feedback))
        log.info("scoring UDF ready: config v%s, model %s, %d feedback records",
                 self.config.version, self.scorer.model_version, len(self.feedback))

    def eval(self, payload: pd.Series, partition: pd.Series, offset: pd.Series, kafka_ts: pd.Series) -> pd.DataFrame:
        self.feed.catch_up()
        # Arrow hands timestamps to pandas in their own unit (milliseconds here, as pyarrow >= 13 keeps
        # it; nanoseconds with older ones): name the unit rather than assume one.
        kafka_ms = kafka_ts.dt.as_unit("ms").astype("int64").tolist()
        records = [SourceRecord(p, int(part), int(off), ms, self.topic)
                   for p, part, off, ms in zip(payload.tolist(), partition.tolist(), offset.tolist(), kafka_ms)]
        with self.scorer.batch(records) as results:  # the block's end waits for the history write
            frame = to_frame(results, self.scorer.model_version, self.config.version)
        self.batches.inc()
        scored = sum(1 for r in results if r.status == SCORED)
        self.records.inc(scored)
        self.rejected.inc(len(results) - scored)
        self.alerts.inc(sum(1 for r in results if r.decision == ALERT))
        self.dynamodb_requests.inc(self.store.requests - self._requests_reported)
        self._requests_reported = self.store.requests
        # What survived the batch (card histories, mostly) leaves the garbage collector's view: a full
        # collection over the whole cache would stall scoring for tenths of a second. Those objects
        # hold no reference cycles; reference counting still frees them.
        gc.freeze()
        return frame

    def close(self) -> None:
        self.scorer.close()
        self.feed.close()

    def is_deterministic(self) -> bool:
        return False  # it writes card histories; see the module docstring


score_transactions = udf(ScoreTransactions(), result_type=OUTPUT_TYPE, func_type="pandas")
