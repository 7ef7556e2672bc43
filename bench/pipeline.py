"""Running the real scoring job in an instance of its own (the integration tests, the fault runner
bench/faults.py): its own topics, Iceberg namespace and DynamoDB table, the same SQL and UDF as the
platform job (include/scoring_job.py); streaming into it, and reading back what it committed."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from pyiceberg.exceptions import NoSuchTableError

from include import aws, kafka_admin, kafka_config, scoring_job, settings
from include.lakehouse import iceberg_catalog, trino_query
from include.scoring.history import CardHistory
from include.transactions import encode
from producer.kafka_writer import KafkaWriter
from producer.labelled import Labelled
from producer.timeline import BAD, FEEDBACK, TX, Message, messages

DAY_MS = 86_400_000


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str | Callable[[], str],
    every_s: float = 2.0,
    meanwhile: Callable[[float], None] | None = None,
) -> None:
    """Checks `condition` every `every_s` until it holds; fails after `timeout_s`. Between two checks it
    calls `meanwhile`, if given, with the seconds left."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what() if callable(what) else what}")
        if meanwhile:
            meanwhile(deadline - time.monotonic())
        time.sleep(every_s)


def new_deployment(name: str, **options) -> scoring_job.Deployment:
    """A job instance of its own with its topics created; `options`: Deployment's fields (alerts_delivery,
    dynamodb_max_attempts, kafka_transaction_timeout_ms, ...)."""
    deployment = scoring_job.Deployment.named(name, **options)
    deployment.create_topics()
    return deployment


@dataclass
class Sent:
    """What a test produced: the expectations of every assertion."""

    valid: dict[str, Labelled] = field(default_factory=dict)
    bad: dict[str, bytes] = field(default_factory=dict)  # tx_id given to the bad record -> payload
    bad_sent_ms: dict[str, int] = field(default_factory=dict)  # ... -> its Kafka record timestamp
    feedback: set[str] = field(default_factory=set)

    @property
    def transaction_messages(self) -> int:
        return len(self.valid) + len(self.bad)


def produce(
    deployment: scoring_job.Deployment,
    items: list[Labelled],
    rate: float = 0.0,
    feedback_delay_days: float = 1.0,
    bad_every: int = 0,
    bad_limit: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> Sent:
    sent = Sent()
    by_id = {item.tx.tx_id: item for item in items}
    writer = KafkaWriter(
        settings.get("KAFKA_BOOTSTRAP"),
        {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
        rate=rate,
        progress=False,
    )
    for message in messages(items, int(feedback_delay_days * DAY_MS), bad_every, bad_limit):
        writer.send(message)
        _record(sent, message, by_id)
        if on_progress and message.kind == TX:
            on_progress(writer.summary.sent[TX])
    summary = writer.close()
    assert summary.failed == 0, summary.errors
    assert not summary.not_due, f"{summary.not_due} messages after now were not sent"
    return sent


def stream_live(deployment: scoring_job.Deployment, items: Iterable[Labelled], rate: float, seconds: float) -> int:
    """Sends the transactions as live traffic: each stamped with the wall clock as it is sent (its event
    time and Kafka timestamp), at `rate` a second for `seconds` at most; no feedback. Returns how many."""
    writer = KafkaWriter(
        settings.get("KAFKA_BOOTSTRAP"),
        {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
        rate=0,  # paced here, so that the stamp is taken after the wait
        progress=False,
    )
    started = time.monotonic()
    for n, item in enumerate(items):
        due = started + n / rate
        if due > started + seconds:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        now_ms = int(time.time() * 1000)
        tx = dataclasses.replace(item.tx, event_ms=now_ms)
        writer.send(Message(TX, tx.card_id, encode(tx), now_ms, tx.tx_id))
    summary = writer.close()
    assert summary.failed == 0, summary.errors
    return summary.sent[TX]


def _record(sent: Sent, message: Message, by_id: dict[str, Labelled]) -> None:
    if message.kind == TX:
        sent.valid[message.tx_id] = by_id[message.tx_id]
    elif message.kind == BAD:
        sent.bad[message.tx_id] = message.value
        sent.bad_sent_ms[message.tx_id] = message.timestamp_ms
    else:
        sent.feedback.add(message.tx_id)


def read_topic(
    topic: str, timeout_s: float = 30.0, decode: Callable[[bytes], Any] = json.loads
) -> list[tuple[str, Any]]:
    """Every committed message of a topic, as (key, decoded value: JSON by default), up to its current end."""
    consumer = Consumer(
        kafka_config.client_config(
            {
                "group.id": f"reader-{topic}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    assignment = [TopicPartition(topic, p, 0) for p in partitions]
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign(assignment)
    out, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        positions = {tp.partition: tp.offset for tp in consumer.position(assignment)}
        if all(positions[p] >= end or end == 0 for p, end in ends.items()):
            break
        for message in consumer.consume(500, timeout=0.5):
            if not message.error():
                out.append((message.key().decode(), decode(message.value())))
    consumer.close()
    return out


def records_in_topic(topic: str) -> int:
    """How many records a topic holds, from its partitions' offsets (a topic written without
    transactions, never compacted nor aged out: every offset is a record)."""
    admin = kafka_admin.admin_client()
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    consumer = Consumer(kafka_config.client_config({"group.id": f"count-{topic}"}))
    try:
        total = 0
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def count(deployment: scoring_job.Deployment, table: str) -> int:
    return trino_query(f"select count(*) from {deployment.table(table)}")[0][0]


@functools.cache
def _cached_catalog():
    return iceberg_catalog()


def _load_table(name: str):
    """The table through one catalog kept for the whole run; after PostgreSQL restarted under it (the fault
    runner does that), its pooled connection is dead: a new catalog is made once."""
    from sqlalchemy.exc import OperationalError

    try:
        return _cached_catalog().load_table(name)
    except OperationalError:
        _cached_catalog.cache_clear()
        return _cached_catalog().load_table(name)


def committed(deployment: scoring_job.Deployment, table: str) -> int:
    """Rows committed to one of the instance's (append-only) Iceberg tables, from its current snapshot's
    summary: what waits poll. A Trino count(*) costs Trino ~0.2 s of CPU, this ~0.03 s in the test."""
    try:
        snapshot = _load_table(deployment.table(table)).current_snapshot()
    except NoSuchTableError:  # the job creates its tables as it starts
        return 0
    return int(snapshot.summary["total-records"]) if snapshot else 0


def iceberg_table(deployment: scoring_job.Deployment, table: str):
    """One of the instance's Iceberg tables (pyiceberg)."""
    return _load_table(deployment.table(table))


def iceberg_rows(deployment: scoring_job.Deployment, table: str) -> list[dict]:
    """Every row (all columns) of one of the instance's Iceberg tables."""
    return iceberg_table(deployment, table).scan().to_arrow().to_pylist()


def scored_rows(deployment: scoring_job.Deployment) -> dict[str, dict]:
    """tx_id -> row of scored_transactions (all columns); fails on a tx_id present twice."""
    rows = iceberg_rows(deployment, "scored_transactions")
    by_id = {row["tx_id"]: row for row in rows}
    assert len(by_id) == len(rows), f"{len(rows) - len(by_id)} transactions are in Iceberg more than once"
    return by_id


def card_histories(deployment: scoring_job.Deployment, card_ids: Iterable[str]) -> dict[str, set[str]]:
    """tx_ids of each card's history in DynamoDB: its compacted item plus its entries in the log."""
    from include.scoring.card_store import DynamoCardStore

    store = DynamoCardStore(aws.dynamodb_client(), deployment.card_table)
    histories = {
        card: {e.tx_id for e in CardHistory.decode(card, blob).entries} for card, blob in store.load(card_ids).items()
    }
    for partition in range(deployment.topics()[deployment.transactions_topic][0]):
        for entries in store.read_log(partition).values():
            for card, entry in entries:
                histories.setdefault(card, set()).add(entry.tx_id)
    return histories


def commit_until(
    deployment: scoring_job.Deployment, condition: Callable[[], bool], timeout_s: float, what: str | Callable[[], str]
) -> None:
    """Waits until `condition` holds of what the instance's job has committed. Iceberg gets what the job has
    processed when a checkpoint completes: rather than wait up to an interval (10 s) for the next periodic
    one, this triggers one whenever the condition does not hold yet."""
    rest = scoring_job.flink()

    def take_a_checkpoint(left_s: float) -> None:
        [job] = scoring_job.running(deployment, rest)
        rest.checkpoint(job.id, timeout_s=max(1.0, left_s))

    # Checked 0.5 s after each checkpoint: the committers commit just after it completes.
    wait_until(condition, timeout_s, what, every_s=0.5, meanwhile=take_a_checkpoint)


def run_until_consumed(deployment: scoring_job.Deployment, sent: Sent, timeout_s: float = 300) -> None:
    """Waits until every produced transaction message is in Iceberg (scored or dead-lettered), then takes
    one more checkpoint, after which nothing may change."""

    def in_iceberg() -> int:
        return committed(deployment, "scored_transactions") + committed(deployment, "dead_letters")

    commit_until(
        deployment,
        lambda: in_iceberg() >= sent.transaction_messages,
        timeout_s,
        lambda: f"all {sent.transaction_messages} transactions in Iceberg (now {in_iceberg()})",
    )
    [job] = scoring_job.running(deployment)
    scoring_job.flink().checkpoint(job.id)


def dead_letter_rows(deployment: scoring_job.Deployment) -> list[dict]:
    """Every row of the instance's dead_letters table."""
    return iceberg_rows(deployment, "dead_letters")
