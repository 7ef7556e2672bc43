"""The scoring UDF: a vectorized (pandas) Python function over raw Kafka records.

Registered in flink/sql/scoring_job.sql as `score_transactions`. It is declared non-deterministic (it
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

from include import aws, config
from include.scoring import config as scoring_config
from include.scoring import model as model_store
from include.scoring.card_store import DynamoCardStore, ensure_table
from include.scoring.config import ScoringConfig
from include.scoring.features import FEATURES
from include.scoring.feedback import FeedbackIndex
from include.scoring.feedback_feed import FeedbackFeed
from include.scoring.scorer import BatchScorer, Result, SourceRecord
from include.scoring_job import RUNTIME_PARAMETER, SCORING_CONFIG_PARAMETER

log = logging.getLogger(__name__)

_TX_FIELDS = [
    ("tx_id", DataTypes.STRING()), ("card_id", DataTypes.STRING()), ("terminal_id", DataTypes.STRING()),
    ("merchant_category", DataTypes.STRING()), ("channel", DataTypes.STRING()),
    ("amount", DataTypes.DOUBLE()), ("currency", DataTypes.STRING()), ("event_ms", DataTypes.BIGINT()),
    ("lat", DataTypes.DOUBLE()), ("lon", DataTypes.DOUBLE()),
]
_RESULT_FIELDS = [
    ("score", DataTypes.DOUBLE()), ("rule_score", DataTypes.DOUBLE()), ("decision", DataTypes.STRING()),
    ("reasons", DataTypes.STRING()),
    ("model_version", DataTypes.STRING()), ("config_version", DataTypes.INT()),
    ("alert_json", DataTypes.STRING()), ("reject_reason", DataTypes.STRING()), ("dead_letter_json", DataTypes.STRING()),
    ("scored_ms", DataTypes.BIGINT()),
    ("kafka_partition", DataTypes.INT()), ("kafka_offset", DataTypes.BIGINT()), ("kafka_ms", DataTypes.BIGINT()),
]
# Times are epoch milliseconds: Arrow rows cannot carry TIMESTAMP_LTZ; the SQL converts them.
_INTEGER_COLUMNS = {"event_ms", "config_version", "scored_ms", "kafka_partition", "kafka_offset", "kafka_ms"}
# The features, except `amount` (already a transaction field), travel as one array in this order;
# flink/sql/scoring/5_scored_view.sql gives each its column. Every column of the result costs the
# pandas -> Arrow conversion a fixed ~0.1 ms per batch: at 1,000 tx/s (batches of ~20) one column per
# feature made that conversion most of the UDF's time.
FEATURE_COLUMNS = [f for f in FEATURES if f not in dict(_TX_FIELDS)]
_OBJECT_COLUMNS = _INTEGER_COLUMNS | {"features"}
OUTPUT_FIELDS = ([("status", DataTypes.STRING())] + _TX_FIELDS + [("features", DataTypes.ARRAY(DataTypes.DOUBLE()))]
                 + _RESULT_FIELDS)
OUTPUT_TYPE = DataTypes.ROW([DataTypes.FIELD(name, kind) for name, kind in OUTPUT_FIELDS])


def output_values(r: Result, model_version: str, config_version: int) -> list:
    """One result as the values of OUTPUT_FIELDS, in order."""
    tx = r.tx if r.status == "scored" else None
    if tx is None:
        scored = [None] * (len(_TX_FIELDS) + 1 + 6)
    else:
        scored = ([getattr(tx, name) for name, _ in _TX_FIELDS] + [[r.features.get(f) for f in FEATURE_COLUMNS]]
                  + [r.score, r.rule_score, r.decision, json.dumps(r.reasons, separators=(",", ":")),
                     model_version, config_version])
    alert = r.alert_json(model_version, config_version) if tx else None
    return [r.status, *scored, alert, r.reject_reason, r.dead_letter_json(), r.scored_ms,
            r.record.partition, r.record.offset, r.record.kafka_ms]


def to_frame(results: list[Result], model_version: str, config_version: int) -> pd.DataFrame:
    """One row per result, columns as OUTPUT_FIELDS."""
    rows = [output_values(r, model_version, config_version) for r in results]
    columns = list(zip(*rows)) if rows else [()] * len(OUTPUT_FIELDS)
    # Integer columns with nulls stay Python objects: pandas would turn them into floats, and its
    # nullable Int64 dtype is rejected by PyFlink's Arrow conversion. The features' lists too (pandas
    # would look into them).
    return pd.DataFrame({name: pd.Series(values, dtype=object) if name in _OBJECT_COLUMNS else list(values)
                         for (name, _), values in zip(OUTPUT_FIELDS, columns)})


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
        self.store = DynamoCardStore(dynamodb, runtime["card_table"])
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
        kafka_ms = (kafka_ts.astype("int64") // 1_000_000).tolist()
        records = [SourceRecord(p, int(part), int(off), ms, self.topic)
                   for p, part, off, ms in zip(payload.tolist(), partition.tolist(), offset.tolist(), kafka_ms)]
        with self.scorer.batch(records) as results:  # the block's end waits for the history write
            frame = to_frame(results, self.scorer.model_version, self.config.version)
        self.batches.inc()
        scored = int((frame["status"] == "scored").sum())
        self.records.inc(scored)
        self.rejected.inc(len(frame) - scored)
        self.alerts.inc(int((frame["decision"] == "ALERT").sum()))
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
