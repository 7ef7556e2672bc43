"""How every Python Kafka client of the platform reaches the brokers: one place for the address and the login.

The local broker takes only SASL/SCRAM logins (stack/conf/kafka/server.properties); on AWS the same settings
name MSK's. The Flink job's Kafka tables carry the same settings in their `properties.*` (flink/sql/).
"""

from __future__ import annotations

from include import settings


def client_config(extra: dict | None = None) -> dict:
    """librdkafka (confluent-kafka) configuration for the platform's brokers, plus `extra`."""
    config = {
        "bootstrap.servers": settings.get("KAFKA_BOOTSTRAP"),
        "security.protocol": settings.get("KAFKA_SECURITY_PROTOCOL"),
    }
    if config["security.protocol"].upper().startswith("SASL"):
        config |= {
            "sasl.mechanism": settings.get("KAFKA_SASL_MECHANISM"),
            "sasl.username": settings.get("KAFKA_USERNAME"),
            "sasl.password": settings.get("KAFKA_PASSWORD"),
        }
    return config | (extra or {})


def kafka_python_config() -> dict:
    """The same login for kafka-python clients (its own option names)."""
    config = client_config()
    translated = {
        "bootstrap_servers": config["bootstrap.servers"],
        "security_protocol": config["security.protocol"],
    }
    if "sasl.mechanism" in config:
        translated |= {
            "sasl_mechanism": config["sasl.mechanism"],
            "sasl_plain_username": config["sasl.username"],
            "sasl_plain_password": config["sasl.password"],
        }
    return translated
