"""Whatever a Kafka record holds, the running job gives it one verdict and never restarts.

A corpus of hostile records, written at the byte level into both input topics of a job instance and
mixed with valid transactions and confirmations: values that are not UTF-8, are UTF-16/32, start with a
byte order mark, hold an overlong encoding, NUL or control floods, tombstones, empty values, values up
to the broker's maximum, binary headers, keys that are not card ids, record timestamps at the extremes
(negative, 0, year 2500; the instance's topics accept any timestamp here, as a permissive broker would).
Each ends as exactly one scored row, confirmed fraud or dead letter with the expected reason, the exact
bytes of every dead letter are in Iceberg, every letter is at most 64 KiB, the valid records around them
are all scored, and the job's restart count stays 0. The same instance keeps at most 3 old metadata
files per Iceberg table however many checkpoints commit.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer

from bench import pipeline
from include import aws, job_health, kafka_admin, kafka_config, scoring_job, settings
from include.dead_letters import MAX_LETTER_BYTES
from include.scoring.feedback import Feedback, encode_feedback
from include.transactions import Transaction, encode
from producer.simulator import Simulator

pytestmark = pytest.mark.slow

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01
YEAR_2500_MS = 16_725_225_600_000
METADATA_KEPT = 3
MAX_BYTES = settings.get_int("KAFKA_MAX_MESSAGE_BYTES")


@dataclass(frozen=True)
class Hostile:
    """One record to write as it is, and what must become of it: a reason code, or `scored`/`confirmed`."""

    name: str
    topic: str  # "tx" or "feedback"
    value: bytes | None
    key: bytes | None
    expected: str
    timestamp_ms: int | None = None
    headers: list | None = None


def _tx(tx_id: str, card: str, event_ms: int = START_MS + 3 * DAY_MS) -> bytes:
    return encode(Transaction(tx_id, card, "T-hostile", 42.0, "EUR", event_ms, "grocery", "pos", 48.1, 11.6))


def _feedback(tx_id: str, card: str) -> bytes:
    return encode_feedback(Feedback(tx_id, card, "T-hostile", START_MS, START_MS + DAY_MS, "card_testing", 9.0))


def corpus() -> list[Hostile]:
    valid = _tx("h-valid-shape", "C900000001")
    text = valid.decode()
    records = [
        Hostile(
            "not UTF-8 (the issue's record)",
            "tx",
            b'{"schema_version":1,"tx_id":"\xff\xfe"}',
            b"C900000001",
            "invalid_encoding",
        ),
        Hostile("UTF-16 with BOM", "tx", text.encode("utf-16"), b"C900000001", "invalid_encoding"),
        Hostile("UTF-16 without BOM", "tx", text.encode("utf-16-le"), b"C900000001", "invalid_encoding"),
        Hostile("UTF-32", "tx", text.encode("utf-32"), b"C900000001", "invalid_encoding"),
        Hostile("UTF-8 BOM", "tx", b"\xef\xbb\xbf" + valid, b"C900000001", "invalid_encoding"),
        Hostile(
            "overlong encoding",
            "tx",
            valid.replace(b'"T-hostile"', b'"T-\xc0\xafhostile"'),
            b"C900000001",
            "invalid_encoding",
        ),
        Hostile("NUL flood", "tx", b"\x00" * 10_000, b"C900000001", "invalid_encoding"),
        Hostile("control flood of 200 KB (the issue's record)", "tx", b"\x01" * 200_000, b"C900000001", "too_large"),
        Hostile("control flood under the UDF's limit", "tx", b"\x01" * 15_000, b"C900000001", "malformed_json"),
        Hostile("tombstone", "tx", None, b"C900000001", "tombstone"),
        Hostile("empty value", "tx", b"", b"C900000001", "empty_value"),
        Hostile("the broker's maximum", "tx", b"\x7f" * (MAX_BYTES - 1024), b"C900000001", "too_large"),
        Hostile("key is not the card", "tx", _tx("h-key-other", "C900000002"), b"C900000003", "key_mismatch"),
        Hostile("key is garbage", "tx", _tx("h-key-garbage", "C900000002"), b"\xff\x00" * 600, "key_mismatch"),
        Hostile("no key", "tx", _tx("h-key-none", "C900000002"), None, "key_mismatch"),
        Hostile("timestamp -5", "tx", _tx("h-ts-negative", "C900000004"), b"C900000004", "invalid_event_time", -5),
        Hostile(
            "timestamp -2^62",
            "tx",
            _tx("h-ts-huge-negative", "C900000004"),
            b"C900000004",
            "invalid_event_time",
            -(2**62),
        ),
        Hostile("timestamp 0", "tx", _tx("h-ts-zero", "C900000004"), b"C900000004", "invalid_event_time", 0),
        Hostile("timestamp in 2500", "tx", _tx("h-ts-2500", "C900000005"), b"C900000005", "scored", YEAR_2500_MS),
        Hostile(
            "binary headers",
            "tx",
            _tx("h-headers", "C900000006"),
            b"C900000006",
            "scored",
            headers=[("\u00e9\u0000", b"\xff\xfe\x00"), ("x" * 1000, b"\x00" * 10_000), ("empty", None)],
        ),
        Hostile("feedback not UTF-8", "feedback", b'{"tx_id":"\xff"}', b"C900000001", "invalid_encoding"),
        Hostile("feedback tombstone", "feedback", None, None, "tombstone"),
        Hostile(
            "feedback UTF-16",
            "feedback",
            _feedback("h-fb-utf16", "C900000007").decode().encode("utf-16"),
            b"C900000007",
            "invalid_encoding",
        ),
        Hostile("feedback control flood of 200 KB", "feedback", b"\x01" * 200_000, b"C900000007", "too_large"),
        Hostile(
            "feedback with timestamp 0",
            "feedback",
            _feedback("h-fb-ts0", "C900000007"),
            b"C900000007",
            "invalid_confirmed_at",
            0,
        ),
        Hostile(
            "feedback keyed by garbage", "feedback", _feedback("h-fb-key", "C900000008"), b"\xff" * 40, "confirmed"
        ),
    ]
    return records


@dataclass
class Written:
    hostile: Hostile
    partition: int
    offset: int


def write_raw(deployment: scoring_job.Deployment, records: list[Hostile]) -> list[Written]:
    """Writes each record as it is (no compression, no checks): librdkafka, and for timestamp 0, which
    librdkafka sends as "now", kafka-python. Returns where each landed."""
    topics = {"tx": deployment.transactions_topic, "feedback": deployment.feedback_topic}
    producer = Producer(
        kafka_config.client_config(
            {
                "enable.idempotence": True,
                "message.max.bytes": MAX_BYTES,
                "compression.type": "none",
            }
        )
    )
    written: list[Written] = []
    errors: list[str] = []

    def delivered(record: Hostile):
        def report(error, message):
            if error is not None:
                errors.append(f"{record.name}: {error}")
            else:
                written.append(Written(record, message.partition(), message.offset()))

        return report

    zero_timestamp = [r for r in records if r.timestamp_ms == 0]
    for record in records:
        if record.timestamp_ms == 0:
            continue
        producer.produce(
            topics[record.topic],
            value=record.value,
            key=record.key,
            headers=record.headers,
            timestamp=record.timestamp_ms or 0,
            on_delivery=delivered(record),
        )
        producer.flush(30)
    assert producer.flush(30) == 0 and not errors, errors

    from kafka import KafkaProducer

    legacy = KafkaProducer(**kafka_config.kafka_python_config())
    for record in zero_timestamp:
        metadata = legacy.send(topics[record.topic], value=record.value, key=record.key, timestamp_ms=0).get(30)
        assert metadata.timestamp == 0
        written.append(Written(record, metadata.partition, metadata.offset))
    legacy.close()
    return written


@pytest.fixture(scope="module")
def hostile_run():
    name = f"hostile_{uuid.uuid4().hex[:8]}"
    deployment = scoring_job.Deployment.named(name, iceberg_metadata_versions_kept=METADATA_KEPT)
    deployment.create_topics()
    # Accept any record timestamp, as a broker configured more loosely than the platform's would.
    kafka_admin.create_topics(
        {
            topic: (parts, {"message.timestamp.after.max.ms": str(2**63 - 1)})
            for topic, (parts, _) in deployment.topics().items()
            if topic in (deployment.transactions_topic, deployment.feedback_topic)
        }
    )
    try:
        job_id = scoring_job.submit(deployment, parallelism=2)
        rest = scoring_job.flink()
        rest.wait_for_state(job_id, {"RUNNING"})
        items = list(Simulator(150, seed=4242, start_ms=START_MS, days=3).transactions())
        # In chunks, each committed before the next: every chunk is a commit, more than the tables keep
        # metadata files for. The hostile records go in the middle.
        chunks = [items[i :: METADATA_KEPT + 3] for i in range(METADATA_KEPT + 3)]
        valid, feedback, written = {}, set(), []
        for i, chunk in enumerate(chunks):
            if i == len(chunks) // 2:
                written = write_raw(deployment, corpus())
            sent = pipeline.produce(
                deployment, sorted(chunk, key=lambda item: item.tx.event_ms), feedback_delay_days=0.5
            )
            valid |= sent.valid
            feedback |= sent.feedback
            expected = len(valid) + 2 * bool(written)  # two hostile records are valid transactions
            pipeline.commit_until(
                deployment,
                lambda n=expected: pipeline.committed(deployment, "scored_transactions") >= n,
                120,
                f"chunk {i} committed",
            )
        expected_tx = len(valid) + sum(1 for w in written if w.hostile.topic == "tx")
        pipeline.commit_until(
            deployment,
            lambda: (
                pipeline.committed(deployment, "scored_transactions")
                + sum(1 for row in _letters(deployment) if row["topic"] == deployment.transactions_topic)
                >= expected_tx
            ),
            300,
            "every transaction-topic record judged",
        )
        pipeline.commit_until(
            deployment,
            lambda: pipeline.committed(deployment, "fraud_feedback") >= len(feedback) + 1,
            120,
            "every confirmation judged",
        )
        yield deployment, written, valid, feedback, job_id
    finally:
        deployment.remove()


def _letters(deployment) -> list[dict]:
    try:
        return pipeline.dead_letter_rows(deployment)
    except Exception:  # noqa: BLE001 - not created yet
        return []


def test_the_job_never_restarted(hostile_run):
    deployment, _, _, _, job_id = hostile_run
    rest = scoring_job.flink()
    assert rest.job(job_id)["state"] == "RUNNING"
    assert job_health.restarts(rest, job_id) == 0
    assert not rest.exceptions(job_id)


def test_every_hostile_record_ends_as_its_one_expected_verdict(hostile_run):
    deployment, written, _, _, _ = hostile_run
    topics = {"tx": deployment.transactions_topic, "feedback": deployment.feedback_topic}
    letters = {(row["topic"], row["kafka_partition"], row["kafka_offset"]): row for row in _letters(deployment)}
    scored = pipeline.scored_rows(deployment)
    for w in written:
        position = (topics[w.hostile.topic], w.partition, w.offset)
        if w.hostile.expected == "scored":
            assert position not in letters, w.hostile.name
            assert any((r["kafka_partition"], r["kafka_offset"]) == (w.partition, w.offset) for r in scored.values())
        elif w.hostile.expected == "confirmed":
            assert position not in letters, w.hostile.name
        else:
            assert position in letters, f"{w.hostile.name}: no dead letter"
            assert letters[position]["reason"].split(":")[0] == w.hostile.expected, (
                w.hostile.name,
                letters[position]["reason"],
            )


def test_every_dead_letter_keeps_the_exact_bytes_and_stays_small(hostile_run):
    deployment, written, _, _, _ = hostile_run
    topics = {"tx": deployment.transactions_topic, "feedback": deployment.feedback_topic}
    letters = {(row["topic"], row["kafka_partition"], row["kafka_offset"]): row for row in _letters(deployment)}
    oversized = {
        (row["topic"], row["kafka_partition"], row["kafka_offset"]): row["payload"]
        for row in pipeline.iceberg_rows(deployment, "oversized_records")
    }
    for w in written:
        position = (topics[w.hostile.topic], w.partition, w.offset)
        if position not in letters:
            continue
        row, value = letters[position], w.hostile.value
        exact = oversized.get(position, row["payload"])
        assert exact == value, w.hostile.name
        assert row["payload_length"] == (None if value is None else len(value)), w.hostile.name
        assert row["payload_sha256"] == (None if value is None else hashlib.sha256(value).hexdigest())
    assert len(oversized) == sum(1 for w in written if w.hostile.expected == "too_large")
    on_topic = pipeline.read_topic(deployment.dlq_topic, decode=lambda value: value)
    assert len(on_topic) == len(letters)
    assert max(len(value) for _, value in on_topic) <= MAX_LETTER_BYTES


def test_the_valid_records_around_them_are_all_judged(hostile_run):
    deployment, written, valid, feedback, _ = hostile_run
    scored = pipeline.scored_rows(deployment)
    expected_scored = set(valid) | {"h-ts-2500", "h-headers"}
    assert set(scored) == expected_scored
    labels = {row["tx_id"] for row in pipeline.iceberg_rows(deployment, "fraud_feedback")}
    assert labels == feedback | {"h-fb-key"}
    # produced = scored + dead-lettered, exactly, on the transactions topic
    tx_letters = [row for row in _letters(deployment) if row["topic"] == deployment.transactions_topic]
    tx_written = sum(1 for w in written if w.hostile.topic == "tx")
    assert len(scored) + len(tx_letters) == len(valid) + tx_written


def test_iceberg_tables_keep_a_bounded_number_of_metadata_files(hostile_run):
    deployment, _, _, _, _ = hostile_run
    s3 = aws.s3_client()
    table = pipeline.iceberg_table(deployment, "scored_transactions")
    bucket, prefix = table.metadata.location.removeprefix("s3://").split("/", 1)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/metadata/")
    metadata_files = [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".metadata.json")]
    assert len(table.metadata.snapshots) > METADATA_KEPT + 1
    assert 1 < len(metadata_files) <= METADATA_KEPT + 1, metadata_files
