"""The dead letter of a rejected Kafka record: small and safe to write whatever the record held.

A letter (JSON on the dead-letter topic, a row of the Iceberg table `dead_letters`) says why the record
was rejected and where it came from, and describes the payload by its length, its sha256 and an
escaped prefix; it is never larger than MAX_LETTER_BYTES, so a huge or hostile record cannot make the
dead-letter sink fail. The exact bytes stay retrievable by (topic, partition, offset): in
`dead_letters.payload` for values of up to include.messages.MAX_JUDGED_BYTES, in `oversized_records`
for longer ones (bounded by KAFKA_MAX_MESSAGE_BYTES).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from include.transactions import format_event_time

MAX_LETTER_BYTES = 64 * 1024
# Escaping turns a byte into at most 6 characters (a control byte becomes \u0001, an invalid one \\xff):
# 4,096 bytes of payload, 256 of key and 1,024 characters of reason stay far below MAX_LETTER_BYTES.
PAYLOAD_PREFIX_BYTES = 4096
KEY_PREFIX_BYTES = 256
REASON_CHARS = 1024


def iso_time(epoch_ms: int) -> str | None:
    """epoch_ms written as event times are, or None outside years 1-9999 (a Kafka timestamp is any int64)."""
    try:
        return format_event_time(epoch_ms)
    except (OverflowError, ValueError):
        return None


def escaped_prefix(data: bytes | None, limit: int) -> str | None:
    """The first `limit` bytes as text: UTF-8 where valid, other bytes as \\xNN (no surrogates, so any
    JSON writer takes it)."""
    return None if data is None else data[:limit].decode("utf-8", "backslashreplace")


def sha256_hex(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    topic: str
    partition: int
    offset: int
    kafka_ms: int
    key: bytes | None  # as read (the job passes at most a prefix of a long key)
    payload_length: int | None  # None: the record had no value (a tombstone)
    payload_sha256: str | None
    payload_prefix: bytes | None
    detected_ms: int

    def json(self) -> str:
        return orjson.dumps(
            {
                "reason": self.reason.encode("utf-8", "backslashreplace").decode()[:REASON_CHARS],
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "kafka_timestamp": iso_time(self.kafka_ms),
                "kafka_timestamp_ms": self.kafka_ms,
                "key_prefix": escaped_prefix(self.key, KEY_PREFIX_BYTES),
                "payload_length": self.payload_length,
                "payload_sha256": self.payload_sha256,
                "payload_prefix": escaped_prefix(self.payload_prefix, PAYLOAD_PREFIX_BYTES),
                "payload_truncated": (self.payload_length or 0) > PAYLOAD_PREFIX_BYTES,
                "detected_at": iso_time(self.detected_ms),
            }
        ).decode()
