"""Confirmed-fraud feedback: one validation for the job's labels and the scorer's side input, and an
index bounded by age whose content depends only on what was read."""

from __future__ import annotations

import json
import random

import pytest

from include.messages import Rejected
from include.scoring.feedback import Feedback, FeedbackIndex, encode_feedback, parse_feedback, validate_feedback

DAY_MS = 86_400_000
GOOD = Feedback("tx-1", "C000000001", "T000001", 1_767_225_600_000, 1_767_830_400_000, "card_testing", 1.5)


def _message(**changes) -> bytes:
    doc = json.loads(encode_feedback(GOOD))
    doc.update(changes)
    return json.dumps(doc).encode()


def test_encode_then_parse_round_trips():
    assert parse_feedback(encode_feedback(GOOD)) == GOOD == validate_feedback(encode_feedback(GOOD), GOOD.confirmed_ms)


@pytest.mark.parametrize(
    "payload, code",
    [
        (_message(schema_version=None), "missing_field"),
        (_message(schema_version=2), "unsupported_schema_version"),
        (_message(tx_id=None), "missing_field"),
        (_message(card_id=""), "invalid_card_id"),
        (_message(card_id="4111111111111111"), "invalid_card_id"),
        (_message(terminal_id={"id": 1}), "wrong_type"),
        (_message(confirmed_at="2026-01-08T00:00:00+02:00"), "invalid_confirmed_at"),
        (_message(tx_event_time="2026-01-01 00:00:00"), "invalid_tx_event_time"),
        (_message(confirmed_at="2025-12-01T00:00:00Z"), "invalid_confirmed_at"),  # before the transaction
        (_message(confirmed_at="2500-01-01T00:00:00Z"), "invalid_confirmed_at"),  # outside 2000-2100
        (_message(fraud_pattern="x" * 65), "invalid_fraud_pattern"),
        (_message(amount="12"), "wrong_type"),
        (_message(amount=-1), "invalid_amount"),
        (_message(is_fraud=True), "unknown_field"),
        (b"[" * 16_000, "malformed_json"),
        (b"not json", "malformed_json"),
        (b"\xff\xfe{}", "invalid_encoding"),
        (None, "tombstone"),
    ],
)
def test_what_is_not_feedback_is_rejected_with_a_reason_and_skipped_by_the_side_input(payload, code):
    with pytest.raises(Rejected) as rejected:
        validate_feedback(payload)
    assert rejected.value.code == code, rejected.value.reason
    assert parse_feedback(payload) is None


def test_a_confirmation_far_after_its_record_timestamp_is_rejected():
    """It would age every other confirmation out of the index."""
    assert validate_feedback(encode_feedback(GOOD), GOOD.confirmed_ms - 3_600_000) == GOOD
    with pytest.raises(Rejected, match="invalid_confirmed_at"):
        validate_feedback(encode_feedback(GOOD), GOOD.confirmed_ms - 3_600_001)


def confirmations(n: int, seed: int = 7) -> list[Feedback]:
    rng = random.Random(seed)
    start = GOOD.confirmed_ms
    return [
        Feedback(
            f"tx-{i}",
            f"C{rng.randrange(50):09d}",
            f"T{rng.randrange(20)}",
            start + i * 3_600_000 - DAY_MS,
            start + i * 3_600_000 + rng.randrange(-2 * DAY_MS, 2 * DAY_MS),
        )
        for i in range(n)
    ]


def test_the_index_keeps_only_what_was_confirmed_within_its_age_bound():
    keep = 10 * DAY_MS
    index = FeedbackIndex(keep_ms=keep)
    stream = confirmations(2000)
    for fb in stream:
        index.add(fb)
    newest = max(fb.confirmed_ms for fb in stream)
    kept = {row[0] for row in index.confirmations()}
    assert kept == {fb.tx_id for fb in stream if fb.confirmed_ms >= newest - keep}
    assert len(index) == len(kept) < 500  # bounded: 2,000 hours of feedback, 10 days kept


def test_what_the_index_counts_depends_only_on_the_records_read_not_their_order_or_a_snapshot():
    keep = 10 * DAY_MS
    stream = confirmations(1500)
    in_order, shuffled = FeedbackIndex(keep_ms=keep), FeedbackIndex(keep_ms=keep)
    for fb in stream:
        in_order.add(fb)
    for fb in random.Random(3).sample(stream, len(stream)):
        shuffled.add(fb)
    restored = FeedbackIndex(keep_ms=keep)
    half = FeedbackIndex(keep_ms=keep)
    for fb in stream[:700]:
        half.add(fb)
    for row in half.confirmations():
        restored.add_confirmation(*row)
    for fb in stream[700:]:
        restored.add(fb)
    assert in_order.confirmations() == shuffled.confirmations() == restored.confirmations()
    newest = in_order.newest_ms
    for terminal in (f"T{t}" for t in range(20)):
        for as_of in range(newest - 9 * DAY_MS, newest, DAY_MS // 3):
            counts = {index.terminal_frauds(terminal, as_of, 7 * DAY_MS) for index in (in_order, shuffled, restored)}
            assert len(counts) == 1


def test_a_confirmation_seen_twice_counts_once():
    index = FeedbackIndex(keep_ms=DAY_MS)
    assert index.add(GOOD) and not index.add(GOOD)
    assert index.card_frauds(GOOD.card_id, GOOD.confirmed_ms, DAY_MS) == 1
