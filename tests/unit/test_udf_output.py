"""The UDF's result arrays carry every field at the position its list names (the SQL view relies on it)."""

from __future__ import annotations

import json

from flink.udf_output import BIGINT_FIELDS, DOUBLE_FIELDS, STRING_FIELDS, output_arrays
from include.scoring import config as scoring_config
from include.scoring.feedback import FeedbackIndex
from include.scoring.scorer import BatchScorer, SourceRecord
from include.transactions import Transaction, encode
from tests.unit.scoring_fakes import MemoryCardStore

T0 = 1_767_312_000_000


def named(result) -> dict:
    strings, doubles, bigints = output_arrays(result, "rules-v7", 7)
    assert (len(strings), len(doubles), len(bigints)) == (len(STRING_FIELDS), len(DOUBLE_FIELDS), len(BIGINT_FIELDS))
    return dict(zip(STRING_FIELDS, strings)) | dict(zip(DOUBLE_FIELDS, doubles)) | dict(zip(BIGINT_FIELDS, bigints))


def test_a_scored_transaction_fills_every_field():
    tx = Transaction("tx1", "C000000001", "T1", 950.0, "EUR", T0, "grocery", "pos", 48.1, 11.6)
    record = SourceRecord(encode(tx).decode(), partition=3, offset=41, kafka_ms=T0 + 5)
    result = BatchScorer(scoring_config.load(), MemoryCardStore(), FeedbackIndex()).score_batch([record])[0]
    row = named(result)
    assert (row["status"], row["tx_id"], row["card_id"], row["terminal_id"]) == ("scored", "tx1", "C000000001", "T1")
    assert (row["merchant_category"], row["channel"], row["currency"]) == ("grocery", "pos", "EUR")
    assert (row["amount"], row["lat"], row["lon"]) == (950.0, 48.1, 11.6)
    assert (row["score"], row["rule_score"], row["decision"]) == (result.score, result.rule_score, "ALERT")
    assert json.loads(row["reasons"]) == result.reasons and json.loads(row["alert_json"])["tx_id"] == "tx1"
    assert (row["model_version"], row["config_version"]) == ("rules-v7", 7)
    assert all(row[f] == result.features[f] for f in DOUBLE_FIELDS[5:])
    assert (row["event_ms"], row["scored_ms"]) == (T0, result.scored_ms)
    assert (row["kafka_partition"], row["kafka_offset"], row["kafka_ms"]) == (3, 41, T0 + 5)
    assert row["reject_reason"] is None and row["dead_letter_json"] is None


def test_a_rejected_record_carries_its_reason_and_position_only():
    record = SourceRecord("{oops", partition=1, offset=9, kafka_ms=T0)
    result = BatchScorer(scoring_config.load(), MemoryCardStore(), FeedbackIndex()).score_batch([record])[0]
    row = named(result)
    assert row["status"] == "rejected" and row["reject_reason"].startswith("malformed_json: ")
    assert json.loads(row["dead_letter_json"])["payload"] == "{oops"
    assert (row["kafka_partition"], row["kafka_offset"], row["kafka_ms"]) == (1, 9, T0)
    assert row["tx_id"] is None and row["amount"] is None and row["alert_json"] is None
