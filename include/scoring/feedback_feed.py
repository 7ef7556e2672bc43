"""Reads the fraud_feedback topic into a FeedbackIndex, as a broadcast side input of the scorer.

Flink SQL has no broadcast join, and the feedback is small (a fraction of a percent of transactions),
so every scoring worker reads all of it with its own consumer (no consumer group, no committed offsets),
up to the topic's current end before each batch. That makes "confirmed by t - margin" mean the same
thing in a first run and in a replay (see feedback.py).

Start-up does not depend on the topic's history: the index is bounded by age, and every few minutes a
worker writes it to object storage with the offsets it covers (`FeedbackSnapshots`). A starting worker
loads the newest snapshot and reads only what came after it. The index is a function of the records
read, so a snapshot taken by any worker at any offsets, followed by the rest of the topic, gives exactly
what reading everything would. Waiting for the topic's end depends on progress, not a deadline: a catch-up
fails only when no record arrives for `stall_timeout_s` while some are still to read.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib

import orjson
from botocore.exceptions import ClientError
from confluent_kafka import OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from include.scoring.feedback import FeedbackIndex, parse_feedback

log = logging.getLogger(__name__)
SNAPSHOT_FORMAT = 1


class FeedbackSnapshots:
    """The feedback index of one topic, with the offsets it covers, as one object in S3 (overwritten: the
    newest is all a worker needs, whichever worker wrote it)."""

    def __init__(self, s3_client, bucket: str, prefix: str, topic: str):
        self.s3 = s3_client
        self.bucket = bucket
        self.key = f"{prefix.strip('/')}/feedback-index/{topic}.json.z"

    def load(self, keep_ms: int | None) -> tuple[dict[int, int], list] | None:
        """(next offset per partition, confirmations) of the stored snapshot, or None when there is none
        or it was taken with another age bound."""
        try:
            blob = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        document = orjson.loads(zlib.decompress(blob))
        if document.get("format") != SNAPSHOT_FORMAT or document.get("keep_ms") != keep_ms:
            return None
        return {int(p): offset for p, offset in document["positions"].items()}, document["confirmations"]

    @staticmethod
    def encode(keep_ms: int | None, positions: dict[int, int], confirmations: list) -> bytes:
        return zlib.compress(
            orjson.dumps(
                {
                    "format": SNAPSHOT_FORMAT,
                    "keep_ms": keep_ms,
                    "positions": {str(p): o for p, o in positions.items()},
                    "confirmations": confirmations,
                }
            ),
            1,
        )

    def save(self, blob: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=blob)

    def delete(self) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key)


class FeedbackFeed:
    def __init__(
        self,
        kafka: dict,
        topic: str,
        index: FeedbackIndex,
        snapshots: FeedbackSnapshots | None = None,
        snapshot_every_s: float = 300.0,
        stall_timeout_s: float = 60.0,
        request_timeout_s: float = 30.0,
        clock=time.monotonic,
    ):
        self.topic = topic
        self.index = index
        self.snapshots = snapshots
        self.snapshot_every_s = snapshot_every_s
        self.stall_timeout_s = stall_timeout_s
        self.request_timeout_s = request_timeout_s
        self.clock = clock
        self.consumer = Consumer(
            kafka
            | {
                "group.id": "fraud-scoring-feedback-side-input",  # required by the client; never committed
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
            }
        )
        # Asks for the end of every partition in one request (the consumer would ask one by one), on
        # its own connection: a consumer's query would wait behind its open long-poll fetch.
        self.admin = AdminClient(kafka)
        metadata = self.consumer.list_topics(topic, timeout=request_timeout_s).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        self.partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        self.skipped = 0
        self.restored = 0  # confirmations the start took from a snapshot
        self.read_since_snapshot = 0
        # The first catch-up that reads anything writes a snapshot at once: after a start that read a long
        # history, the next start (a restart, another worker) need not read it again.
        self._last_snapshot = float("-inf")
        self._upload: threading.Thread | None = None
        self._assigned: dict[int, int] = {}  # where a snapshot said to start reading each partition
        self._restore()
        self.consumer.assign(self.partitions)

    def _restore(self) -> None:
        """Starts from the stored snapshot when there is one that fits this topic."""
        if self.snapshots is None:
            return
        stored = self.snapshots.load(self.index.keep_ms)
        if stored is None:
            return
        positions, confirmations = stored
        ends = self._offsets(OffsetSpec.latest(), [tp.partition for tp in self.partitions])
        if set(positions) != set(ends) or any(positions[p] > ends[p] for p in ends):
            log.warning("feedback snapshot of %s does not fit the topic (recreated?): reading it all", self.topic)
            return
        for tx_id, card, terminal, confirmed_ms in confirmations:
            self.index.add_confirmation(tx_id, card, terminal, confirmed_ms)
        self.partitions = [TopicPartition(self.topic, p, positions[p]) for p in sorted(positions)]
        self._assigned = dict(positions)
        self.restored = len(confirmations)
        log.info(
            "feedback index of %s: %d confirmations from its snapshot, reading on from %s",
            self.topic,
            self.restored,
            positions,
        )

    def _offsets(self, spec: OffsetSpec, partitions: list[int]) -> dict[int, int]:
        request = {TopicPartition(self.topic, p): spec for p in partitions}
        answers = self.admin.list_offsets(
            request, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=self.request_timeout_s
        )
        return {tp.partition: future.result().offset for tp, future in answers.items()}

    def catch_up(self) -> int:
        """Reads until every partition's position reaches the end it had when called; returns records read.
        Raises TimeoutError only when nothing could be read for stall_timeout_s while records were left."""
        latest = self._offsets(OffsetSpec.latest(), [tp.partition for tp in self.partitions])
        positions = self._positions()
        # A partition never read from has no position yet: where it starts (the snapshot's offset, or
        # the earliest retention left) tells whether anything is left to read. Asked only then, as it
        # costs a request per batch.
        starts = {p: positions[p] if positions[p] >= 0 else self._assigned.get(p, 0) for p in latest}
        unread = [p for p, high in latest.items() if high > 0 and positions[p] < 0 and p not in self._assigned]
        if unread:
            starts |= self._offsets(OffsetSpec.earliest(), unread)
        ends = {p: high for p, high in latest.items() if high > starts[p]}  # else no position to wait for
        read, last_progress = 0, self.clock()
        while True:
            if all(positions[p] >= end for p, end in ends.items()):
                self.read_since_snapshot += read
                self._snapshot_if_due(positions)
                return read
            if self.clock() - last_progress > self.stall_timeout_s:
                raise TimeoutError(
                    f"reading {self.topic} made no progress for {self.stall_timeout_s:.0f} s "
                    f"(positions {positions}, ends {ends})"
                )
            # consume() returns early only once it has num_messages: ask for what is missing, so a
            # few new records do not cost the full timeout (control records can make this an
            # overestimate; then the short timeout bounds the wait).
            missing = sum(end - max(positions[p], starts[p]) for p, end in ends.items() if positions[p] < end)
            for message in self.consumer.consume(num_messages=max(1, min(1000, missing)), timeout=0.05):
                if message.error():
                    continue
                feedback = parse_feedback(message.value(), message.timestamp()[1])
                if feedback is None:
                    self.skipped += 1
                else:
                    self.index.add(feedback)
                read += 1
            new_positions = self._positions()
            if new_positions != positions:
                last_progress = self.clock()
            positions = new_positions

    def _snapshot_if_due(self, positions: dict[int, int]) -> None:
        """Every snapshot_every_s, if anything was read since the last one, writes the index and the
        offsets it covers; the upload runs on a thread (one at a time), the encoding here, where the
        index is consistent with `positions`."""
        if (
            self.snapshots is None
            or not self.read_since_snapshot
            or self.clock() - self._last_snapshot < self.snapshot_every_s
            or (self._upload is not None and self._upload.is_alive())
        ):
            return
        covered = {p: offset if offset >= 0 else self._assigned.get(p, 0) for p, offset in positions.items()}
        blob = FeedbackSnapshots.encode(self.index.keep_ms, covered, self.index.confirmations())
        self._last_snapshot, self.read_since_snapshot = self.clock(), 0
        self._upload = threading.Thread(target=self._save, args=(blob,), name="feedback-snapshot", daemon=True)
        self._upload.start()

    def _save(self, blob: bytes) -> None:
        try:
            self.snapshots.save(blob)
        except Exception:  # noqa: BLE001 - a missed snapshot only makes the next start read more
            log.exception("could not write the feedback snapshot of %s", self.topic)

    def _positions(self) -> dict[int, int]:
        """The consumer's next offset per partition (negative while a partition has none yet)."""
        return {tp.partition: tp.offset for tp in self.consumer.position(self.partitions)}

    def close(self) -> None:
        if self._upload is not None:
            self._upload.join(timeout=30)
        self.consumer.close()
