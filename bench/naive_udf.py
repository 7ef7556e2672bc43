"""The seed's design, for the benchmark only: a per-row Python UDF that, for every transaction, reads
the card's history with a synchronous GetItem and writes it back with an UpdateItem.

Same features, rules and output as flink/udfs.py, so the benchmark compares designs, not logic: only
the access pattern differs (no batching, no cache).
"""

from __future__ import annotations

import time

from pyflink.table import Row
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from flink.udf_output import output_arrays
from flink.udfs import OUTPUT_TYPE, feedback_side_input, job_parameters
from include import aws
from include.scoring import features as feature_calc
from include.scoring import rules as rule_engine
from include.scoring.card_store import HISTORY_ATTRIBUTE, TABLE_KEY, ensure_table
from include.scoring.history import CardHistory, Entry
from include.scoring.scorer import ALERT, PASS, REJECTED, Result, SourceRecord
from include.transactions import Rejected, parse


class NaiveScore(ScalarFunction):
    def open(self, function_context: FunctionContext) -> None:
        self.config, runtime = job_parameters(function_context)
        self.table = runtime["card_table"]
        self.dynamodb = aws.dynamodb_client(retries={"total_max_attempts": 3})
        ensure_table(self.dynamodb, self.table)
        self.feedback, self.feed = feedback_side_input(runtime)
        self.topic = runtime["transactions_topic"]
        metrics = function_context.get_metric_group().add_group("fraud")
        self.records = metrics.counter("records_scored")
        self.rejected = metrics.counter("records_rejected")
        self.requests = metrics.counter("dynamodb_requests")

    def _score(self, record: SourceRecord) -> Result:
        try:
            tx = parse(record.payload)
        except Rejected as rejected:
            return Result(REJECTED, record, reject_reason=rejected.reason)
        item = self.dynamodb.get_item(TableName=self.table, Key={TABLE_KEY: {"S": tx.card_id}},
                                      ConsistentRead=True).get("Item")
        history = CardHistory.decode(tx.card_id, item[HISTORY_ATTRIBUTE]["B"] if item else None)
        prior = history.prior(tx.event_ms, tx.tx_id, record.partition, record.offset,
                              self.config.max_entries_used)
        result = Result("scored", record, tx=tx, features=feature_calc.compute(tx, prior, self.feedback, self.config))
        history.add(Entry(tx.event_ms, tx.tx_id, tx.amount, tx.terminal_id, tx.lat, tx.lon, record.partition,
                          record.offset), self.config.retention_ms, self.config.max_entries)
        self.dynamodb.update_item(TableName=self.table, Key={TABLE_KEY: {"S": tx.card_id}},
                                  UpdateExpression=f"SET {HISTORY_ATTRIBUTE} = :h",
                                  ExpressionAttributeValues={":h": {"B": history.encode()}})
        self.requests.inc(2)
        fired = rule_engine.fired(self.config.rules, result.features)
        result.reasons = rule_engine.reasons(fired, result.features)
        result.score = result.rule_score = rule_engine.rule_score(fired)
        result.decision = ALERT if result.score >= self.config.alert_threshold else PASS
        return result

    def eval(self, payload, partition, offset, kafka_ts):
        self.feed.catch_up()
        record = SourceRecord(payload, int(partition), int(offset), int(kafka_ts.timestamp() * 1000), self.topic)
        result = self._score(record)
        result.scored_ms = int(time.time() * 1000)
        (self.records if result.status == "scored" else self.rejected).inc()
        return Row(*output_arrays(result, f"rules-v{self.config.version}", self.config.version))

    def is_deterministic(self) -> bool:
        return False


score_transactions_naive = udf(NaiveScore(), result_type=OUTPUT_TYPE)
