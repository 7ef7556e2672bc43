"""The Airflow connections (AIRFLOW_CONN_* in platform.env) name the same services as the platform
settings, so a task that exports them (include/airflow_connections.py) changes nothing locally."""

from __future__ import annotations

import os

import pytest

from include import airflow_connections, settings


@pytest.fixture
def connections_from_platform_env(monkeypatch):
    platform = settings.all_settings()
    for name, value in platform.items():
        if name.startswith("AIRFLOW_CONN_"):
            monkeypatch.setenv(name, value)
    yield platform
    settings.all_settings.cache_clear()  # drop what was read from the test's environment


def test_connections_resolve_to_the_platform_settings(connections_from_platform_env):
    exported = airflow_connections.settings_from_connections()
    assert exported == {name: connections_from_platform_env[name] for name in exported}


def test_a_changed_connection_reaches_the_settings_the_clients_read(connections_from_platform_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FLINK_DEFAULT", '{"conn_type": "http", "host": "http://flink.internal:8081/"}')
    monkeypatch.setattr(os, "environ", os.environ.copy())  # what the export writes is undone after the test
    airflow_connections.export_to_settings()
    assert settings.get("FLINK_REST_URL") == "http://flink.internal:8081"
