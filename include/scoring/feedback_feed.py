"""Reads the whole fraud_feedback topic into a FeedbackIndex, as a broadcast side input of the scorer.

Flink SQL has no broadcast join, and the feedback is small (a fraction of a percent of transactions),
so every scoring worker reads all of it with its own consumer (no consumer group, no committed offsets):
from the beginning when it starts, then, before each batch, up to the topic's current end. That makes
"confirmed by t - margin" mean the same thing in a first run and in a replay (see feedback.py).
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from include.scoring.feedback import FeedbackIndex, parse_feedback


class FeedbackFeed:
    def __init__(self, bootstrap: str, topic: str, index: FeedbackIndex, timeout_s: float = 30.0):
        self.topic = topic
        self.index = index
        self.timeout_s = timeout_s
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "fraud-scoring-feedback-side-input",  # required by the client; never committed
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # Answer fetches at the end of the log quickly: the end-offset query of catch_up() waits
            # behind an open long-poll fetch on the same connection (500 ms by default).
            "fetch.wait.max.ms": 10,
            "auto.offset.reset": "earliest",
        })
        # Asks for the end of every partition in one request (the consumer would ask one by one).
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        metadata = self.consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        self.partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        self.consumer.assign(self.partitions)
        self.skipped = 0

    def catch_up(self) -> int:
        """Reads until every partition's position reaches the end it had when called; returns records read."""
        def offsets(spec: OffsetSpec) -> dict:
            request = {TopicPartition(self.topic, tp.partition): spec for tp in self.partitions}
            return self.admin.list_offsets(request, isolation_level=IsolationLevel.READ_COMMITTED,
                                           request_timeout=self.timeout_s)

        earliest, latest = offsets(OffsetSpec.earliest()), offsets(OffsetSpec.latest())  # both in flight
        ends = {}
        for tp, future in latest.items():
            high, low = future.result().offset, earliest[tp].result().offset
            if high > low:  # else nothing to read: no position to wait for
                ends[tp.partition] = high
        read, deadline = 0, time.monotonic() + self.timeout_s
        while True:
            positions = {tp.partition: tp.offset for tp in self.consumer.position(self.partitions)}
            if all(positions[p] >= end for p, end in ends.items()):
                return read
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} up to its end within {self.timeout_s} s "
                                   f"(positions {positions}, ends {ends})")
            for message in self.consumer.consume(num_messages=1000, timeout=0.2):
                if message.error():
                    continue
                feedback = parse_feedback(message.value())
                if feedback is None:
                    self.skipped += 1
                else:
                    self.index.add(feedback)
                read += 1

    def close(self) -> None:
        self.consumer.close()
