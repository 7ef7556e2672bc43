"""Kafka: the platform's topics exist as configured, and records round-trip keyed by card."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from include import kafka_config
from stack.services import kafka_topics


@pytest.fixture
def admin() -> AdminClient:
    return AdminClient(kafka_config.client_config())


def test_platform_topics_exist_with_configured_partitions_and_retention(admin):
    topics = admin.list_topics(timeout=10).topics
    for name, (partitions, topic_config) in kafka_topics().items():
        assert name in topics, f"topic {name} missing"
        assert len(topics[name].partitions) == partitions
        described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)])
        actual = next(iter(described.values())).result(timeout=10)
        for key, value in topic_config.items():
            assert actual[key].value == value, (name, key)


def test_produce_and_consume_keeps_each_key_in_one_partition(admin, unique_name):
    admin.create_topics([NewTopic(unique_name, num_partitions=3, replication_factor=1)])[unique_name].result(30)
    try:
        producer = Producer(kafka_config.client_config({"enable.idempotence": True}))
        delivered = []
        sent = {(f"card-{i % 7}", f"tx-{i}") for i in range(200)}
        for key, value in sorted(sent):
            producer.produce(
                unique_name, key=key, value=value, on_delivery=lambda err, msg: delivered.append((err, msg.partition()))
            )
        assert producer.flush(30) == 0
        assert all(err is None for err, _ in delivered) and len(delivered) == len(sent)

        consumer = Consumer(
            kafka_config.client_config(
                {
                    "group.id": unique_name,
                    "auto.offset.reset": "earliest",
                }
            )
        )
        consumer.subscribe([unique_name])
        received, partitions_of_key = set(), {}
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            key, value = message.key().decode(), message.value().decode()
            received.add((key, value))
            partitions_of_key.setdefault(key, set()).add(message.partition())
        consumer.close()
        assert received == sent
        assert all(len(parts) == 1 for parts in partitions_of_key.values())
    finally:
        admin.delete_topics([unique_name])[unique_name].result(30)
