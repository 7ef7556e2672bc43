"""Monitoring against the running stack: Prometheus scrapes the Flink JobManager and TaskManager (Flink's
reporter), the Kafka broker (the JMX exporter), the machine, Alertmanager and itself, each signed in; an alert rule fires when the scoring job
stops, reaches the platform alerts topic through Alertmanager and the webhook, and resolves when the job
runs again; the operations dashboard draws the job's graphs in a browser."""

from __future__ import annotations

import html
import math
import random
import time
from datetime import datetime
from urllib.parse import quote

import pytest
import requests

from bench import pipeline
from include import airflow_api, ops_dashboard, scoring_job, settings
from producer.simulator import Simulator
from stack import dashboard_server
from tests.integration import chromium

PLATFORM = scoring_job.Deployment.platform()
DAY_MS = 86_400_000
DEPLOY, HEALTH = "fraud_scoring_deploy", "fraud_scoring_health"
NOT_RUNNING = f"ScoringJobNotRunning/{PLATFORM.job_name}"
# The rule's `for:`, then one scrape and one evaluation (15 s each) to see it, Alertmanager's group_wait
# (10 s), and 20 s for the webhook and the broker.
FIRING_BOUND_S = 60 + 15 + 15 + 10 + 20
# One scrape and one evaluation to see the job running, Alertmanager's group_interval (30 s), and 20 s.
RESOLVED_BOUND_S = 15 + 15 + 30 + 20


def _prometheus(path: str, **params) -> dict:
    answer = requests.get(
        f"{settings.get('PROMETHEUS_URL')}{path}",
        params=params,
        auth=(settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD")),
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["data"]


def _targets_up() -> set[tuple[str, str]]:
    targets = _prometheus("/api/v1/targets", state="active")["activeTargets"]
    return {(t["labels"]["job"], t["labels"].get("component", "")) for t in targets if t["health"] == "up"}


def test_prometheus_scrapes_flink_the_machine_and_the_monitoring_signed_in():
    expected = {
        ("flink", "jobmanager"),
        ("flink", "taskmanager"),
        ("node", ""),
        ("kafka", ""),
        ("alertmanager", ""),
        ("prometheus", ""),
    }
    pipeline.wait_until(lambda: expected <= _targets_up(), timeout_s=60, what="every target up")
    [registered] = _prometheus("/api/v1/query", query="flink_jobmanager_numRegisteredTaskManagers")["result"]
    assert float(registered["value"][1]) >= 1
    [offline] = _prometheus("/api/v1/query", query="kafka_controller_offlinepartitionscount")["result"]
    assert float(offline["value"][1]) == 0  # the broker's JMX exporter answers, and all is well
    rules = {r["name"] for g in _prometheus("/api/v1/rules", type="alert")["groups"] for r in g["rules"]}
    assert {"ScoringJobNotRunning", "CheckpointsStale", "KafkaConsumerLagHigh", "DataDiskFilling"} <= rules


def _value(query: str) -> float:
    result = _prometheus("/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def test_the_dashboard_draws_every_panel_from_live_traffic_in_chromium(tmp_path):
    """A minute of live transactions (stamped as they are sent) into the platform job, then the operations
    dashboard opened in headless Chromium, signed in: every panel drawn with data, the page kept as a
    screenshot in .stack/test-output/dashboard.png."""
    if not scoring_job.running(PLATFORM):
        airflow_api.run(DEPLOY, {"require_approval": False})
    now_ms = int(time.time() * 1000)
    items = Simulator(5000, seed=random.randrange(10**6), start_ms=now_ms - DAY_MS, days=1).transactions()
    assert pipeline.stream_live(PLATFORM, items, rate=50, seconds=60) >= 2900
    # Live latency quantiles need two scrapes of the histogram after the first verdicts.
    pipeline.wait_until(
        lambda: math.isfinite(_value(f'fraud:detection_seconds:p99_5m{{job_name="{PLATFORM.job_name}"}}')),
        timeout_s=90,
        what="a detection latency quantile in Prometheus",
    )
    user, password = settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD")
    url = settings.get("DASHBOARD_URL").replace("://", f"://{quote(user)}:{quote(password, safe='')}@", 1) + "/"
    time.sleep(dashboard_server.CACHE_S)  # a page drawn before the wait above is not served again
    dom = chromium.dump_dom(url, tmp_path / "profile", window="1400,1800")
    shot_path = chromium.output_dir() / "dashboard.png"
    shot = chromium.screenshot(url, shot_path, tmp_path / "profile", window="1400,1800")
    print(f"dashboard screenshot: {shot_path}")

    panels = ops_dashboard.panels(PLATFORM.job_name)
    for panel in panels:
        assert html.escape(panel.title) in dom, panel.title
    assert dom.count("No data in the last 30 minutes.") == 0, "a panel has nothing to show"
    assert dom.count("<svg") == len(panels)
    assert shot.returncode == 0, shot.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot_path)
    assert pixels.shape[:2] == (1800, 1400) and pixels.std() > 0.05, "the page rendered blank"
    without_login = requests.get(settings.get("DASHBOARD_URL") + "/", timeout=10)
    assert without_login.status_code == 401


def _alert_after(offset: int, key: str, status: str, timeout_s: float, starts_at: str | None = None) -> dict:
    """The first message of `key` with `status` (and of the episode that began at `starts_at`, if given) on
    the platform alerts topic at or after `offset` (one partition: offsets are positions), waiting up to
    `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message_key, alert in pipeline.read_topic(settings.get("PLATFORM_ALERTS_TOPIC"))[offset:]:
            episode = starts_at is None or alert["labels"]["starts_at"] == starts_at
            if message_key == key and alert["status"] == status and episode:
                return alert
        time.sleep(2)
    raise AssertionError(f"no {status} {key} on the platform alerts topic within {timeout_s:.0f} s")


def _alert_active(name: str) -> bool:
    return bool(_prometheus("/api/v1/query", query=f'ALERTS{{alertname="{name}"}}')["result"])


@pytest.mark.disruptive
def test_a_stopped_scoring_job_raises_an_alert_that_resolves_when_it_runs_again():
    """The health DAG is paused meanwhile: it would restart the job before the rule's minute is up. The
    job runs, and Prometheus has seen it run, before it is cancelled: the alert measured is a new one."""
    if not scoring_job.running(PLATFORM):
        airflow_api.run(DEPLOY, {"require_approval": False})
    with airflow_api.paused(HEALTH):
        pipeline.wait_until(lambda: not _alert_active("ScoringJobNotRunning"), 120, "the job seen running")
        [job] = scoring_job.running(PLATFORM)
        start = len(pipeline.read_topic(settings.get("PLATFORM_ALERTS_TOPIC")))
        stopped = time.monotonic()
        scoring_job.flink().cancel(job.id)
        firing = _alert_after(start, NOT_RUNNING, "firing", timeout_s=FIRING_BOUND_S + 60)
        fired_after_s = time.monotonic() - stopped
        assert firing["severity"] == "critical" and firing["source"] == "prometheus"
        assert "not been RUNNING" in firing["summary"] and firing["labels"]["generator_url"]

        airflow_api.run(DEPLOY, {"require_approval": False})  # from its newest checkpoint
        running_again = time.monotonic()
        resolved = _alert_after(
            start, NOT_RUNNING, "resolved", RESOLVED_BOUND_S + 60, starts_at=firing["labels"]["starts_at"]
        )
        resolved_after_s = time.monotonic() - running_again
        print(f"firing {fired_after_s:.0f} s after the cancel, resolved {resolved_after_s:.0f} s after the restart")
        assert fired_after_s <= FIRING_BOUND_S, fired_after_s
        assert resolved_after_s <= RESOLVED_BOUND_S, resolved_after_s
        assert datetime.fromisoformat(resolved["at"]) > datetime.fromisoformat(firing["at"])
