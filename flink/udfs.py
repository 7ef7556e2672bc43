"""The scoring UDF: a vectorized (pandas) Python function over raw Kafka records.

Registered in flink/sql/scoring_job.sql as `score_transactions`. It is declared non-deterministic (it
writes card histories to DynamoDB), which also keeps the planner from copying the call into each
sink's branch: the job evaluates it once per record, and every sink reads the one result.

The scoring itself lives in include/scoring (plain Python, unit tested); this module only adapts
Arrow batches to it and exposes metrics.
"""

from __future__ import annotations

import base64
import logging

import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from include import aws, config
from include.scoring import config as scoring_config
from include.scoring import model as model_store
from include.scoring.card_store import DynamoCardStore, ensure_table
from include.scoring.feedback import FeedbackIndex
from include.scoring.feedback_feed import FeedbackFeed
from include.scoring.features import FEATURES
from include.scoring.scorer import BatchScorer, Result, SourceRecord

log = logging.getLogger(__name__)

SCORING_CONFIG_PARAMETER = "scoring.config.b64"  # set by include/scoring_job.py

_TX_FIELDS = [
    ("tx_id", DataTypes.STRING()), ("card_id", DataTypes.STRING()), ("terminal_id", DataTypes.STRING()),
    ("merchant_category", DataTypes.STRING()), ("channel", DataTypes.STRING()),
    ("amount", DataTypes.DOUBLE()), ("currency", DataTypes.STRING()), ("event_ms", DataTypes.BIGINT()),
    ("lat", DataTypes.DOUBLE()), ("lon", DataTypes.DOUBLE()),
]
_RESULT_FIELDS = [
    ("score", DataTypes.DOUBLE()), ("decision", DataTypes.STRING()), ("reasons", DataTypes.STRING()),
    ("model_version", DataTypes.STRING()), ("config_version", DataTypes.INT()),
    ("alert_json", DataTypes.STRING()), ("reject_reason", DataTypes.STRING()), ("dead_letter_json", DataTypes.STRING()),
    ("scored_ms", DataTypes.BIGINT()),
]
# Times are epoch milliseconds: Arrow rows cannot carry TIMESTAMP_LTZ; the SQL converts them.
_INTEGER_COLUMNS = {"event_ms", "config_version", "scored_ms"}
# Features as columns, except `amount`, which is already a transaction field.
FEATURE_COLUMNS = [f for f in FEATURES if f not in dict(_TX_FIELDS)]
OUTPUT_FIELDS = ([("status", DataTypes.STRING())] + _TX_FIELDS + [(f, DataTypes.DOUBLE()) for f in FEATURE_COLUMNS]
                 + _RESULT_FIELDS)
OUTPUT_TYPE = DataTypes.ROW([DataTypes.FIELD(name, kind) for name, kind in OUTPUT_FIELDS])


def to_frame(results: list[Result], model_version: str, config_version: int) -> pd.DataFrame:
    """One row per result, columns as OUTPUT_FIELDS (pure Python, so unit tests can check it)."""
    import json

    columns: dict[str, list] = {name: [] for name, _ in OUTPUT_FIELDS}
    for r in results:
        tx = r.tx if r.status == "scored" else None
        columns["status"].append(r.status)
        for name, _ in _TX_FIELDS:
            columns[name].append(getattr(tx, name) if tx else None)
        for name in FEATURE_COLUMNS:
            columns[name].append(r.features.get(name) if tx else None)
        columns["score"].append(r.score if tx else None)
        columns["decision"].append(r.decision if tx else None)
        columns["reasons"].append(json.dumps(r.reasons, separators=(",", ":")) if tx else None)
        columns["model_version"].append(model_version if tx else None)
        columns["config_version"].append(config_version if tx else None)
        columns["alert_json"].append(r.alert_json(model_version, config_version) if tx else None)
        columns["reject_reason"].append(r.reject_reason)
        columns["dead_letter_json"].append(r.dead_letter_json())
        columns["scored_ms"].append(r.scored_ms)
    # Integer columns with nulls stay Python objects: pandas would turn them into floats, and its
    # nullable Int64 dtype is rejected by PyFlink's Arrow conversion.
    return pd.DataFrame({name: pd.Series(values, dtype=object) if name in _INTEGER_COLUMNS else values
                         for name, values in columns.items()})


class ScoreTransactions(ScalarFunction):
    def open(self, function_context: FunctionContext) -> None:
        settings = config.settings()
        encoded = function_context.get_job_parameter(SCORING_CONFIG_PARAMETER, "")
        if encoded:
            import tempfile

            with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as handle:
                handle.write(base64.b64decode(encoded))
            self.config = scoring_config.load(handle.name)
        else:
            self.config = scoring_config.load()
        dynamodb = aws.dynamodb_client(retries={"total_max_attempts": 1}, max_pool_connections=4)
        ensure_table(dynamodb, settings["DYNAMODB_CARD_TABLE"])
        self.store = DynamoCardStore(dynamodb, settings["DYNAMODB_CARD_TABLE"])
        self.feedback = FeedbackIndex()
        self.feed = FeedbackFeed(settings["KAFKA_BOOTSTRAP"], settings["FEEDBACK_TOPIC"], self.feedback)
        self.feed.catch_up()
        model = model_store.load(self.config.model_uri, aws.s3_client()) if self.config.model_uri else None
        self.scorer = BatchScorer(self.config, self.store, self.feedback, model)
        self.topic = settings["TRANSACTIONS_TOPIC"]

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
        results = self.scorer.score_batch(records)
        frame = to_frame(results, self.scorer.model_version, self.config.version)
        self.batches.inc()
        scored = int((frame["status"] == "scored").sum())
        self.records.inc(scored)
        self.rejected.inc(len(frame) - scored)
        self.alerts.inc(int((frame["decision"] == "ALERT").sum()))
        self.dynamodb_requests.inc(self.store.requests - self._requests_reported)
        self._requests_reported = self.store.requests
        return frame

    def close(self) -> None:
        self.feed.close()

    def is_deterministic(self) -> bool:
        return False  # it writes card histories; see the module docstring


score_transactions = udf(ScoreTransactions(), result_type=OUTPUT_TYPE, func_type="pandas")
