"""The scorer's feedback side input: catch_up() reads fraud_feedback up to the end it had when called,
every time, however few records arrived since the last call."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from include import config, kafka_admin
from include.scoring.feedback import Feedback, FeedbackIndex, encode_feedback
from include.scoring.feedback_feed import FeedbackFeed

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01: the feedback schema takes times from 2000 to 2100


@pytest.fixture
def feedback_topic(unique_name):
    kafka_admin.create_topics({unique_name: (3, {})})
    yield unique_name
    kafka_admin.delete_topics([unique_name])


def produce(topic: str, payloads: list[tuple[str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": config.get("KAFKA_BOOTSTRAP"), "enable.idempotence": True})
    for key, value in payloads:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def feedback(i: int) -> tuple[str, bytes]:
    card = f"C{i % 5:09d}"
    return card, encode_feedback(Feedback(f"tx-{i}", card, f"T{i % 3}", START_MS + i * 1000,
                                          START_MS + i * 1000 + 7 * DAY_MS, "card_testing"))


def test_catch_up_reads_to_the_end_each_time(feedback_topic):
    index = FeedbackIndex()
    feed = FeedbackFeed(config.get("KAFKA_BOOTSTRAP"), feedback_topic, index, timeout_s=20)
    try:
        assert feed.catch_up() == 0 and len(index) == 0  # empty topic: returns at once

        produce(feedback_topic, [feedback(i) for i in range(2_500)])
        assert feed.catch_up() == 2_500 and len(index) == 2_500

        # A few records at a time, one of them not feedback at all: each call reads exactly them.
        for round_ in range(3):
            first = 2_500 + 2 * round_
            produce(feedback_topic, [feedback(first), feedback(first + 1), ("C000000001", b"not json")])
            assert feed.catch_up() == 3
            assert len(index) == first + 2
        assert feed.skipped == 3
        assert index.card_frauds("C000000000", 10**13, 10**13) == sum(1 for i in range(2_506) if i % 5 == 0)
    finally:
        feed.close()
