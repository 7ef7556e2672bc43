"""The UDF's result arrays carry every field at the position its list names (the SQL view is generated
from the same lists), for each kind of verdict."""

from __future__ import annotations

import hashlib
import json

from include.dead_letters import MAX_LETTER_BYTES
from include.scoring import config as scoring_config
from include.scoring.feedback import Feedback, FeedbackIndex, encode_feedback
from include.scoring.scorer import BatchScorer, SourceRecord
from include.scoring.verdict_layout import BIGINT_FIELDS, DOUBLE_FIELDS, STRING_FIELDS, output_arrays
from include.scoring.verdicts import judged
from include.transactions import Transaction, encode
from tests.unit.scoring_fakes import MemoryCardStore

T0 = 1_767_312_000_000
TX_TOPIC, FEEDBACK_TOPIC = "tx", "feedback"


def named(result) -> dict:
    strings, doubles, bigints, payload = output_arrays(result, "rules-v7", 7)
    assert (len(strings), len(doubles), len(bigints)) == (len(STRING_FIELDS), len(DOUBLE_FIELDS), len(BIGINT_FIELDS))
    return (
        dict(zip(STRING_FIELDS, strings))
        | dict(zip(DOUBLE_FIELDS, doubles))
        | dict(zip(BIGINT_FIELDS, bigints))
        | {"payload": payload}
    )


def verdicts(*records: SourceRecord) -> list:
    scorer = BatchScorer(scoring_config.load(), MemoryCardStore(), FeedbackIndex())
    with judged(scorer, list(records), FEEDBACK_TOPIC) as results:
        return results


def test_a_scored_transaction_fills_every_field():
    tx = Transaction("tx1", "C000000001", "T1", 950.0, "EUR", T0, "grocery", "pos", 48.1, 11.6)
    [result] = verdicts(
        SourceRecord(encode(tx), partition=3, offset=41, kafka_ms=T0 + 5, topic=TX_TOPIC, key=b"C000000001")
    )
    row = named(result)
    assert (row["status"], row["topic"], row["tx_id"], row["card_id"], row["terminal_id"]) == (
        "scored",
        TX_TOPIC,
        "tx1",
        "C000000001",
        "T1",
    )
    assert (row["merchant_category"], row["channel"], row["currency"]) == ("grocery", "pos", "EUR")
    assert (row["amount"], row["lat"], row["lon"]) == (950.0, 48.1, 11.6)
    assert (row["score"], row["rule_score"], row["decision"]) == (result.score, result.rule_score, "ALERT")
    assert json.loads(row["reasons"]) == result.reasons and json.loads(row["alert_json"])["tx_id"] == "tx1"
    assert (row["model_version"], row["config_version"]) == ("rules-v7", 7)
    assert all(row[f] == result.features[f] for f in DOUBLE_FIELDS[5:])
    assert (row["event_ms"], row["scored_ms"]) == (T0, result.scored_ms)
    assert (row["kafka_partition"], row["kafka_offset"], row["kafka_ms"]) == (3, 41, T0 + 5)
    assert row["reject_reason"] is None and row["dead_letter_json"] is None and row["payload"] is None


def test_a_confirmed_fraud_fills_the_label_fields():
    fb = Feedback("tx9", "C000000002", "T4", T0, T0 + 86_400_000, "card_testing", 3.5)
    [result] = verdicts(SourceRecord(encode_feedback(fb), 1, 7, fb.confirmed_ms, FEEDBACK_TOPIC, b"C000000002"))
    row = named(result)
    assert (row["status"], row["topic"], row["tx_id"], row["card_id"], row["terminal_id"], row["fraud_pattern"]) == (
        "confirmed",
        FEEDBACK_TOPIC,
        "tx9",
        "C000000002",
        "T4",
        "card_testing",
    )
    assert (row["amount"], row["event_ms"], row["confirmed_ms"]) == (3.5, T0, T0 + 86_400_000)
    assert (row["kafka_partition"], row["kafka_offset"], row["scored_ms"]) == (1, 7, result.scored_ms)
    assert row["reject_reason"] is None and row["score"] is None


def test_a_rejected_record_carries_its_letter_and_exact_bytes():
    [result] = verdicts(SourceRecord(b"{oops\xff", partition=1, offset=9, kafka_ms=T0, topic=TX_TOPIC, key=b"k"))
    row = named(result)
    assert row["status"] == "rejected" and row["reject_reason"].startswith("invalid_encoding: ")
    letter = json.loads(row["dead_letter_json"])
    assert letter["payload_prefix"] == "{oops\\xff" and letter["key_prefix"] == "k"
    assert row["payload"] == b"{oops\xff" and row["payload_length"] == 6
    assert row["payload_sha256"] == letter["payload_sha256"] == hashlib.sha256(b"{oops\xff").hexdigest()
    assert (row["kafka_partition"], row["kafka_offset"], row["kafka_ms"]) == (1, 9, T0)
    assert row["tx_id"] is None and row["amount"] is None and row["alert_json"] is None


def test_an_oversized_record_is_described_by_the_length_and_hash_it_came_with():
    prefix = b"x" * 4096
    [result] = verdicts(
        SourceRecord(prefix, 0, 1, T0, FEEDBACK_TOPIC, None, full_length=1_000_000, full_sha256="ab" * 32)
    )
    row = named(result)
    assert row["reject_reason"] == "too_large: 1000000 bytes, at most 16384"
    assert (row["payload_length"], row["payload_sha256"]) == (1_000_000, "ab" * 32)
    assert row["payload"] is None  # the exact bytes are in oversized_records
    letter = json.loads(row["dead_letter_json"])
    assert letter["payload_truncated"] and len(letter["payload_prefix"]) == 4096
    assert len(row["dead_letter_json"].encode()) < MAX_LETTER_BYTES


def test_verdicts_keep_the_order_of_mixed_records():
    tx = Transaction("tx1", "C000000001", "T1", 5.0, "EUR", T0)
    fb = Feedback("tx0", "C000000001", "T1", T0 - 1000, T0 - 500)
    records = [
        SourceRecord(b"", 0, 0, T0, TX_TOPIC),
        SourceRecord(encode_feedback(fb), 0, 0, T0, FEEDBACK_TOPIC),
        SourceRecord(encode(tx), 1, 0, T0, TX_TOPIC, b"C000000001"),
        SourceRecord(None, 0, 1, T0, FEEDBACK_TOPIC),
    ]
    assert [v.status for v in verdicts(*records)] == ["rejected", "confirmed", "scored", "rejected"]
