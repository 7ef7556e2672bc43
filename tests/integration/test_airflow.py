"""Airflow: the API server answers its health endpoint, all components healthy, and the UI needs a login."""

from __future__ import annotations

import requests

from include import settings


def test_health_endpoint_reports_every_component_healthy():
    health = requests.get(f"{settings.get('AIRFLOW_URL')}/api/v2/monitor/health", timeout=10).json()
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", (component, health[component])


def test_api_needs_a_login_and_accepts_the_configured_one():
    url = settings.get("AIRFLOW_URL")
    assert requests.get(f"{url}/api/v2/dags", timeout=10).status_code == 401
    token = requests.post(
        f"{url}/auth/token",
        timeout=10,
        json={
            "username": settings.get("AIRFLOW_ADMIN_USER"),
            "password": settings.get("AIRFLOW_ADMIN_PASSWORD"),
        },
    ).json()["access_token"]
    dags = requests.get(f"{url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert "platform_health" in {d["dag_id"] for d in dags["dags"]}
