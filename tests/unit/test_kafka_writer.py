"""KafkaWriter counts how many messages from the start of the stream are delivered: where a rerun resumes.
The counting is pure logic, so a stand-in for confluent-kafka's Producer plays the broker here (the
resumed CLI run against the real broker: tests/integration/test_producer_resume.py)."""

from __future__ import annotations

import time

import pytest

from producer import kafka_writer
from producer.timeline import TX, Message


class Broker:
    """Keeps each produce()'s delivery callback; the test decides which succeed."""

    def __init__(self, config: dict):
        self.callbacks = []

    def produce(self, topic, key, value, timestamp, on_delivery):
        self.callbacks.append(on_delivery)

    def poll(self, timeout=0):
        return 0

    def flush(self, timeout=0):
        return 0

    def report(self, index: int, error: str | None = None) -> None:
        message = type("Sent", (), {"topic": lambda self: "tx", "key": lambda self: b"C1"})()
        self.callbacks[index](error, message)


@pytest.fixture
def writer(monkeypatch):
    monkeypatch.setattr(kafka_writer, "Producer", Broker)
    return kafka_writer.KafkaWriter("unused:9092", {TX: "tx"}, progress=False, first_message=100)


def tx(n: int, at_ms: int | None = None) -> Message:
    return Message(TX, "C1", b"{}", at_ms if at_ms is not None else 1_767_225_600_000 + n, f"tx-{n}")


def test_delivered_counts_the_leading_confirmed_messages_after_those_skipped(writer):
    for n in range(5):
        writer.send(tx(n))
    broker = writer.producer
    for n in (0, 1, 3, 4):
        broker.report(n)
    broker.report(2, error="timed out")
    summary = writer.close()
    assert summary.delivered == 100 + 2  # message 2 failed: a rerun resumes there
    assert summary.failed == 1


def test_a_message_not_yet_due_stops_the_count(writer):
    writer.send(tx(0))
    writer.send(tx(1, at_ms=int(time.time() * 1000) + 3_600_000))
    writer.producer.report(0)
    summary = writer.close()
    assert summary.delivered == 101 and summary.not_due[TX] == 1
