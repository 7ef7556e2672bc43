"""The scoring UDF's result row: three arrays, strings, doubles and bigints, one element per field.

flink/sql/scoring/5_scored_view.sql names each element (`s.strings[2] AS tx_id`, ...), in the order of
the lists below; tests/unit/test_job_sql.py checks that the two agree.

Why arrays and not a column per field: PyFlink converts a pandas UDF's result column by column
(pandas -> Arrow), at a fixed ~0.1 ms per column and batch. With a column per field (25) that was
3.4 ms for a batch of 20 rows, most of the UDF's time at 1,000 tx/s; with three arrays it is 0.55 ms
(measured in one run, same rows). Plain Python, so unit tests import it without PyFlink.
"""

from __future__ import annotations

from include.scoring.features import FEATURES
from include.scoring.scorer import SCORED, Result

STRING_FIELDS = ("status", "tx_id", "card_id", "terminal_id", "merchant_category", "channel", "currency",
                 "decision", "reasons", "model_version", "alert_json", "reject_reason", "dead_letter_json")
# `amount` is both a transaction field and the first feature: it travels once.
_FEATURES_AFTER_AMOUNT = tuple(f for f in FEATURES if f != "amount")
DOUBLE_FIELDS = ("amount", "lat", "lon", "score", "rule_score", *_FEATURES_AFTER_AMOUNT)
BIGINT_FIELDS = ("event_ms", "scored_ms", "config_version", "kafka_partition", "kafka_offset", "kafka_ms")


def output_arrays(r: Result, model_version: str, config_version: int) -> tuple[list, list, list]:
    """One result as (strings, doubles, bigints), in the order of the field lists above."""
    record = r.record
    if r.status != SCORED:
        return ([r.status, None, None, None, None, None, None, None, None, None, None, r.reject_reason,
                 r.dead_letter_json()],
                [None] * len(DOUBLE_FIELDS),
                [None, r.scored_ms, None, record.partition, record.offset, record.kafka_ms])
    tx, features = r.tx, r.features
    return ([r.status, tx.tx_id, tx.card_id, tx.terminal_id, tx.merchant_category, tx.channel, tx.currency,
             r.decision, r.reasons_json(), model_version, r.alert_json(model_version, config_version), None, None],
            [tx.amount, tx.lat, tx.lon, r.score, r.rule_score, *map(features.get, _FEATURES_AFTER_AMOUNT)],
            [tx.event_ms, r.scored_ms, config_version, record.partition, record.offset, record.kafka_ms])
