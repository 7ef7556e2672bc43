"""Reading confirmed-fraud feedback: what the scorer counts is what the job's SQL writes to Iceberg."""

from __future__ import annotations

import json

import pytest

from include.scoring.feedback import Feedback, encode_feedback, parse_feedback

GOOD = Feedback("tx-1", "C000000001", "T000001", 1_767_225_600_000, 1_767_830_400_000, "card_testing", 1.5)


def _message(**changes) -> str:
    doc = json.loads(encode_feedback(GOOD))
    doc.update(changes)
    return json.dumps(doc)


def test_encode_then_parse_round_trips():
    assert parse_feedback(encode_feedback(GOOD)) == GOOD


# Each of these fails the SQL view feedback_parsed (flink/sql/scoring/2_sources.sql) too.
@pytest.mark.parametrize("payload", [
    _message(schema_version=None),
    _message(schema_version=2),
    _message(tx_id=None),
    _message(card_id=""),
    _message(terminal_id={"id": 1}),
    _message(confirmed_at="2026-01-08T00:00:00+02:00"),
    _message(tx_event_time="2026-01-01 00:00:00"),
    "[" * 100_000,
    "not json",
])
def test_what_is_not_feedback_is_skipped_not_raised(payload):
    assert parse_feedback(payload) is None
