"""Kafka administration shared by the stack tool, the scoring job's deployments and the tests."""

from __future__ import annotations

import logging

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from include import kafka_config, settings


def admin_client():
    """An admin client that does not log every refused connection (a broker still starting)."""
    quiet = logging.getLogger("include.kafka_admin")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return AdminClient(kafka_config.client_config(), logger=quiet)


def create_topics(topics: dict[str, tuple[int, dict[str, str]]]) -> None:
    """Creates missing topics, adds partitions to topics with too few, and sets their configs."""
    admin = admin_client()
    existing = admin.list_topics(timeout=10).topics
    replicas = settings.get_int("KAFKA_REPLICATION_FACTOR")
    missing = [
        NewTopic(name, num_partitions=parts, replication_factor=replicas, config=topic_config)
        for name, (parts, topic_config) in topics.items()
        if name not in existing
    ]
    for future in admin.create_topics(missing).values() if missing else ():
        future.result(timeout=30)
    too_few = [
        NewPartitions(name, parts)
        for name, (parts, _) in topics.items()
        if name in existing and len(existing[name].partitions) < parts
    ]
    for future in admin.create_partitions(too_few).values() if too_few else ():
        future.result(timeout=30)
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in topic_config.items()
            ],
        )
        for name, (_, topic_config) in topics.items()
        if name in existing
    ]
    for future in admin.incremental_alter_configs(resources).values() if resources else ():
        future.result(timeout=30)


def delete_topics(names: list[str]) -> None:
    """Deletes the topics that exist and waits until the broker has (an unawaited request may never
    be sent: the client goes away with it)."""
    admin = admin_client()
    existing = [name for name in names if name in admin.list_topics(timeout=10).topics]
    for future in admin.delete_topics(existing).values() if existing else ():
        future.result(timeout=30)
