"""The scorer's feedback side input against real Kafka and S3: catch_up() reads fraud_feedback up to the
end it had when called, every time, however few records arrived; a long read is limited by progress,
not by a deadline; and a worker that starts from the stored snapshot reads only what came after it and
ends with exactly the index of one that read everything."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from include import aws, kafka_admin, kafka_config, settings
from include.scoring.feedback import Feedback, FeedbackIndex, encode_feedback
from include.scoring.feedback_feed import FeedbackFeed, FeedbackSnapshots

DAY_MS = 86_400_000
# 2014-01-01: 100,000 hourly confirmations later it is still the past (the broker refuses future timestamps),
# and within the feedback schema's 2000-2100
START_MS = 1_388_534_400_000
KEEP_MS = 61 * DAY_MS


@pytest.fixture
def feedback_topic(unique_name):
    kafka_admin.create_topics({unique_name: (3, {})})
    yield unique_name
    kafka_admin.delete_topics([unique_name])


@pytest.fixture
def snapshots(feedback_topic):
    store = FeedbackSnapshots(
        aws.s3_client(), settings.get("SCORING_STATE_BUCKET"), settings.get("SCORING_STATE_PREFIX"), feedback_topic
    )
    yield store
    store.delete()


def produce(topic: str, payloads: list[tuple[str, bytes, int]]) -> None:
    producer = Producer(
        kafka_config.client_config(
            {
                "enable.idempotence": True,
                "linger.ms": 20,
                "queue.buffering.max.messages": 500_000,
            }
        )
    )
    for key, value, timestamp in payloads:
        producer.produce(topic, key=key, value=value, timestamp=timestamp)
        producer.poll(0)
    assert producer.flush(60) == 0


def feedback(i: int, step_ms: int = 3_600_000) -> tuple[str, bytes, int]:
    """The i-th confirmation: `step_ms` after the previous one, so the index's age bound drops the oldest."""
    card = f"C{i % 5:09d}"
    confirmed = START_MS + i * step_ms
    return (
        card,
        encode_feedback(Feedback(f"tx-{i}", card, f"T{i % 3}", confirmed - 7 * DAY_MS, confirmed, "card_testing")),
        confirmed,
    )


def test_catch_up_reads_to_the_end_each_time(feedback_topic):
    index = FeedbackIndex()
    feed = FeedbackFeed(kafka_config.client_config(), feedback_topic, index, stall_timeout_s=20)
    try:
        assert feed.catch_up() == 0 and len(index) == 0  # empty topic: returns at once

        produce(feedback_topic, [feedback(i) for i in range(2_500)])
        assert feed.catch_up() == 2_500 and len(index) == 2_500

        # A few records at a time, one of them not feedback at all: each call reads exactly them.
        for round_ in range(3):
            first = 2_500 + 2 * round_
            produce(feedback_topic, [feedback(first), feedback(first + 1), ("C000000001", b"not json", START_MS)])
            assert feed.catch_up() == 3
            assert len(index) == first + 2
        assert feed.skipped == 3
        assert index.card_frauds("C000000000", 10**13, 10**13) == sum(1 for i in range(2_506) if i % 5 == 0)
    finally:
        feed.close()


class PollCounter:
    """A clock that advances one unit each time the feed reads it, i.e. about once per poll round: a stall
    bound in these units is a number of rounds without progress, which a slow, busy machine does not shorten
    (in CI a 3 s wall-clock bound failed once with both test workers and every service busy)."""

    def __init__(self):
        self.now = 0

    def __call__(self) -> int:
        self.now += 1
        return self.now


def test_a_long_read_is_bounded_by_progress_not_by_a_deadline(feedback_topic):
    """250,000 confirmations take far more poll rounds than the feed may go without progress (200 rounds of
    at least 50 ms each: 10 s of nothing), yet the read completes."""
    produce(feedback_topic, [feedback(i, step_ms=60_000) for i in range(250_000)])
    index = FeedbackIndex(keep_ms=KEEP_MS)
    rounds = PollCounter()
    feed = FeedbackFeed(kafka_config.client_config(), feedback_topic, index, stall_timeout_s=200, clock=rounds)
    try:
        assert feed.catch_up() == 250_000
        # at most 1,000 records a round: at least 250 rounds, each reading the clock at least once
        assert rounds.now > feed.stall_timeout_s, "too short to show anything: read more"
        # bounded by age: 61 days of confirmations a minute apart, out of 174 days
        assert len(index) == 61 * 24 * 60 + 1
    finally:
        feed.close()


def test_a_worker_starts_from_the_snapshot_and_reads_only_the_rest(feedback_topic, snapshots):
    produce(feedback_topic, [feedback(i) for i in range(3_000)])
    first_index = FeedbackIndex(keep_ms=KEEP_MS)
    first = FeedbackFeed(kafka_config.client_config(), feedback_topic, first_index, snapshots, snapshot_every_s=0)
    try:
        assert first.catch_up() == 3_000
        first._upload.join(30)  # the snapshot is written on a thread
        first.snapshot_every_s = 1e9  # ...and no other after it
        produce(feedback_topic, [feedback(i) for i in range(3_000, 3_500)])
        assert first.catch_up() == 500
    finally:
        first.close()

    second_index = FeedbackIndex(keep_ms=KEEP_MS)
    second = FeedbackFeed(kafka_config.client_config(), feedback_topic, second_index, snapshots, snapshot_every_s=1e9)
    try:
        assert second.restored == 61 * 24 + 1  # what the index kept of the first 3,000
        assert second.catch_up() == 500  # and only what came after the snapshot
    finally:
        second.close()
    assert second_index.confirmations() == first_index.confirmations()


def test_a_snapshot_of_another_topic_generation_is_ignored(feedback_topic, snapshots):
    """A snapshot whose offsets lie beyond the topic's end (the topic was recreated) is not used."""
    snapshots.save(FeedbackSnapshots.encode(KEEP_MS, {0: 10_000, 1: 10_000, 2: 10_000}, [["x", "C000000001", "T1", 1]]))
    produce(feedback_topic, [feedback(i) for i in range(10)])
    index = FeedbackIndex(keep_ms=KEEP_MS)
    feed = FeedbackFeed(kafka_config.client_config(), feedback_topic, index, snapshots)
    try:
        assert feed.restored == 0 and feed.catch_up() == 10 and len(index) == 10
    finally:
        feed.close()
