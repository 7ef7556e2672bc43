"""The seed's design, for the benchmark only: a per-row Python UDF that, for every transaction, reads
the card's history with a synchronous GetItem and writes it back with an UpdateItem.

Same validation, features, rules and output as flink/udfs.py, so the benchmark compares designs, not
logic: only the access pattern differs (no batching, no cache).
"""

from __future__ import annotations

import time

from pyflink.table import Row
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from flink.udfs import OUTPUT_TYPE
from include import aws
from include.scoring import features as feature_calc
from include.scoring import rules as rule_engine
from include.scoring import runtime as worker_runtime
from include.scoring.card_store import HISTORY_ATTRIBUTE, TABLE_KEY, ensure_table
from include.scoring.history import CardHistory, Entry
from include.scoring.scorer import ALERT, PASS, REJECTED, SCORED, Result, SourceRecord, parse_record, rejected
from include.scoring.verdict_layout import output_arrays
from include.scoring.verdicts import confirmation


class NaiveJudge(ScalarFunction):
    def open(self, function_context: FunctionContext) -> None:
        self.config, runtime = worker_runtime.decode(function_context.get_job_parameter)
        self.table = runtime["card_table"]
        self.dynamodb = aws.dynamodb_client(retries={"total_max_attempts": 3})
        ensure_table(self.dynamodb, self.table)
        self.feedback, self.feed = worker_runtime.feedback_side_input(runtime, self.config)
        self.feedback_topic = runtime["feedback_topic"]
        metrics = function_context.get_metric_group().add_group("fraud")
        self.records = metrics.counter("records_scored")
        self.rejected = metrics.counter("records_rejected")
        self.requests = metrics.counter("dynamodb_requests")

    def _score(self, record: SourceRecord) -> Result:
        try:
            tx = parse_record(record)
        except Exception as error:  # noqa: BLE001 - as flink/udfs.py: a record must not stop the job
            return rejected(record, error)
        item = self.dynamodb.get_item(
            TableName=self.table, Key={TABLE_KEY: {"S": tx.card_id}}, ConsistentRead=True
        ).get("Item")
        history = CardHistory.decode(tx.card_id, item[HISTORY_ATTRIBUTE]["B"] if item else None)
        prior = history.prior(tx.event_ms, tx.tx_id, record.partition, record.offset, self.config.max_entries_used)
        result = Result(SCORED, record, tx=tx, features=feature_calc.compute(tx, prior, self.feedback, self.config))
        history.add(
            Entry(tx.event_ms, tx.tx_id, tx.amount, tx.terminal_id, tx.lat, tx.lon, record.partition, record.offset),
            self.config.retention_ms,
            self.config.max_entries,
        )
        self.dynamodb.update_item(
            TableName=self.table,
            Key={TABLE_KEY: {"S": tx.card_id}},
            UpdateExpression=f"SET {HISTORY_ATTRIBUTE} = :h",
            ExpressionAttributeValues={":h": {"B": history.encode()}},
        )
        self.requests.inc(2)
        fired = rule_engine.fired(self.config.rules, result.features)
        result.reasons = rule_engine.reasons(fired, result.features)
        result.score = result.rule_score = rule_engine.rule_score(fired)
        result.decision = ALERT if result.score >= self.config.alert_threshold else PASS
        return result

    def eval(self, topic, key, payload, full_length, full_sha256, partition, offset, kafka_ts):
        self.feed.catch_up()
        record = SourceRecord(
            payload, int(partition), int(offset), int(kafka_ts.timestamp() * 1000), topic, key, full_length, full_sha256
        )
        result = confirmation(record) if topic == self.feedback_topic else self._score(record)
        result.scored_ms = int(time.time() * 1000)
        if result.status == SCORED:
            self.records.inc()
        elif result.status == REJECTED:
            self.rejected.inc()
        return Row(*output_arrays(result, f"rules-v{self.config.version}", self.config.version))

    def is_deterministic(self) -> bool:
        return False


judge_records_naive = udf(NaiveJudge(), result_type=OUTPUT_TYPE)
