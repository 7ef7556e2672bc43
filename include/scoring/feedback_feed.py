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
            "auto.offset.reset": "earliest",
        })
        # Asks for the end of every partition in one request (the consumer would ask one by one), on
        # its own connection: a consumer's query would wait behind its open long-poll fetch.
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        metadata = self.consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        self.partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        self.consumer.assign(self.partitions)
        self.skipped = 0

    def catch_up(self) -> int:
        """Reads until every partition's position reaches the end it had when called; returns records read."""
        def offsets(spec: OffsetSpec, partitions: list[int]) -> dict[int, int]:
            request = {TopicPartition(self.topic, p): spec for p in partitions}
            answers = self.admin.list_offsets(request, isolation_level=IsolationLevel.READ_COMMITTED,
                                              request_timeout=self.timeout_s)
            return {tp.partition: future.result().offset for tp, future in answers.items()}

        latest = offsets(OffsetSpec.latest(), [tp.partition for tp in self.partitions])
        positions = self._positions()
        # A partition never read from has no position yet: where it starts (retention may have
        # removed its head) tells whether anything is left to read. Asked only then, as it costs a
        # request per batch.
        unread = [p for p, high in latest.items() if high > 0 and positions[p] < 0]
        starts = {p: max(positions[p], 0) for p in latest} | (offsets(OffsetSpec.earliest(), unread) if unread else {})
        ends = {p: high for p, high in latest.items() if high > starts[p]}  # else no position to wait for
        read, deadline = 0, time.monotonic() + self.timeout_s
        while True:
            if all(positions[p] >= end for p, end in ends.items()):
                return read
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} up to its end within {self.timeout_s} s "
                                   f"(positions {positions}, ends {ends})")
            # consume() returns early only once it has num_messages: ask for what is missing, so a
            # few new records do not cost the full timeout (control records can make this an
            # overestimate; then the short timeout bounds the wait).
            missing = sum(end - max(positions[p], starts[p]) for p, end in ends.items() if positions[p] < end)
            for message in self.consumer.consume(num_messages=max(1, min(1000, missing)), timeout=0.05):
                if message.error():
                    continue
                feedback = parse_feedback(message.value())
                if feedback is None:
                    self.skipped += 1
                else:
                    self.index.add(feedback)
                read += 1
            positions = self._positions()

    def _positions(self) -> dict[int, int]:
        """The consumer's next offset per partition (negative while a partition has none yet)."""
        return {tp.partition: tp.offset for tp in self.consumer.position(self.partitions)}

    def close(self) -> None:
        self.consumer.close()
