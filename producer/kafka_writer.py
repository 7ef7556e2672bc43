"""Sends the timeline to Kafka: idempotent producer, key = card, record timestamp = event time, every
delivery report checked, optional pacing, progress and a final summary.

One ordering promise matters to the scorer: a fraud confirmation is in Kafka before any transaction
that could use it (the scorer uses confirmations older than its delay margin, 2 h by default). Kafka
keeps no order across topics, so before sending a transaction, the writer waits for every feedback
message confirmed more than FEEDBACK_FLUSH_MS earlier to be delivered.

Nothing is sent before it happens: a message timestamped after the wall clock (a confirmation due
7 days after last night's fraud, a simulated day still to come) is counted as not yet due and left out
(the broker would refuse it anyway: Kafka 4 rejects timestamps more than an hour ahead).

A run that fails part-way can be resumed: `Summary.delivered` counts the messages from the start of the
stream that are all delivered; a rerun that skips that many (`first_message`) sends the rest.
"""

from __future__ import annotations

import collections
import sys
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, Producer

from include import kafka_config, settings
from producer.timeline import BAD, FEEDBACK, TX, Message

# Must stay below scoring.yaml feedback.delay_margin_hours.
FEEDBACK_FLUSH_MS = 3_600_000


@dataclass
class Summary:
    sent: collections.Counter = field(default_factory=collections.Counter)
    not_due: collections.Counter = field(default_factory=collections.Counter)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    delivered: int = 0  # messages from the start of the stream, all delivered: where a rerun resumes

    @property
    def transactions_per_s(self) -> float:
        return self.sent[TX] / self.elapsed_s if self.elapsed_s else 0.0

    def __str__(self) -> str:
        text = (
            f"sent {self.sent[TX]:,} transactions, {self.sent[FEEDBACK]:,} feedback, {self.sent[BAD]:,} bad "
            f"records; {self.failed:,} failed; {self.elapsed_s:.1f} s, {self.transactions_per_s:,.0f} tx/s"
        )
        if self.not_due:
            text += (
                f"; not yet due (after now), not sent: {self.not_due[TX] + self.not_due[BAD]:,} transactions, "
                f"{self.not_due[FEEDBACK]:,} feedback"
            )
        return text


class Progress:
    """A tqdm bar on a terminal, a log line every few seconds elsewhere (CI, Airflow task logs)."""

    def __init__(self, enabled: bool, every_s: float = 5.0):
        self.enabled = enabled
        self.every_s = every_s
        self.bar = None
        self.last = time.monotonic()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit=" tx", unit_scale=True, file=sys.stderr)

    def update(self, summary: Summary) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
        elif time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            print(f"[producer] {summary.sent[TX]:,} transactions sent", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class KafkaWriter:
    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, str],
        rate: float = 0.0,
        progress: bool = True,
        extra_config: dict | None = None,
        first_message: int = 0,
    ):
        """`first_message`: how many messages of the stream an earlier run delivered (the caller skips them)."""
        self.topics = topics
        self.rate = rate
        # The platform's login (include/kafka_config.py) for the brokers at `bootstrap`.
        self.producer = Producer(
            kafka_config.client_config()
            | {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                # The topics take the same (Deployment.topics): a message the broker would refuse fails here.
                "message.max.bytes": settings.get_int("KAFKA_MAX_MESSAGE_BYTES"),
                **(extra_config or {}),
            }
        )
        self.summary = Summary(delivered=first_message)
        self.progress = Progress(progress)
        self.started = time.monotonic()
        self._feedback_in_flight: collections.deque[tuple[int, list[bool]]] = collections.deque()
        # A delivered flag per message handed to send() and not yet counted in summary.delivered.
        self._outcomes: collections.deque[list[bool]] = collections.deque()

    def _report(self, delivered: list[bool]):
        def on_delivery(error, message) -> None:
            if error is not None:
                self.summary.failed += 1
                if len(self.summary.errors) < 10:
                    self.summary.errors.append(f"{message.topic()} key={message.key()}: {error}")
            else:
                delivered[0] = True

        return on_delivery

    def _count_delivered(self) -> None:
        """Advances summary.delivered over the leading messages whose delivery is confirmed. A message left
        out as not yet due stops it for good: a rerun must still send that one."""
        outcomes = self._outcomes
        while outcomes and outcomes[0][0]:
            outcomes.popleft()
            self.summary.delivered += 1

    def _pace(self) -> None:
        if self.rate > 0:
            due = self.started + self.summary.sent[TX] / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _feedback_delivered_before(self, event_ms: int) -> None:
        queue = self._feedback_in_flight
        while queue and queue[0][1][0]:
            queue.popleft()
        if queue and queue[0][0] <= event_ms - FEEDBACK_FLUSH_MS:
            self.producer.flush(60)
            queue.clear()

    def send(self, message: Message) -> None:
        delivered = [False]
        self._outcomes.append(delivered)
        if message.timestamp_ms > time.time() * 1000:
            self.summary.not_due[message.kind] += 1
            return
        if message.kind == TX:
            self._pace()
            self._feedback_delivered_before(message.timestamp_ms)
        topic = self.topics[FEEDBACK] if message.kind == FEEDBACK else self.topics[TX]
        while True:
            try:
                self.producer.produce(
                    topic,
                    key=message.key,
                    value=message.value,
                    timestamp=message.timestamp_ms,
                    on_delivery=self._report(delivered),
                )
                break
            except BufferError:
                self.producer.poll(0.1)  # local queue full: let deliveries drain
        if message.kind == FEEDBACK:
            self._feedback_in_flight.append((message.timestamp_ms, delivered))
        self.producer.poll(0)
        self._count_delivered()
        self.summary.sent[message.kind] += 1
        if message.kind == TX:
            self.progress.update(self.summary)

    def close(self, timeout_s: float = 120) -> Summary:
        remaining = self.producer.flush(timeout_s)
        self.progress.close()
        self._count_delivered()
        self.summary.elapsed_s = time.monotonic() - self.started
        if remaining:
            raise KafkaException(f"{remaining} messages still undelivered after {timeout_s:.0f} s")
        return self.summary
