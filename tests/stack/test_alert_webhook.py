"""stack/alert_webhook.py: who it answers, what bodies it takes, and that Alertmanager is told to retry
until the broker has every alert. The broker is replaced here (publish_all); the whole path, Prometheus
to Kafka, runs in tests/integration/test_monitoring.py."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from stack import alert_webhook
from stack.http_login import basic_authorization

LOGIN = basic_authorization("prometheus", "s3cret-for-tests")
NOTIFICATION = {
    "version": "4",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ScoringJobNotRunning", "severity": "critical", "subject": "fraud-scoring"},
            "annotations": {"summary": "not running"},
            "startsAt": "2026-12-07T18:41:25.991Z",
        }
    ],
}


@pytest.fixture
def published(monkeypatch) -> list:
    sent: list = []
    monkeypatch.setattr(alert_webhook.platform_alerts, "publish_all", lambda alerts: sent.extend(alerts))
    return sent


@pytest.fixture
def url(monkeypatch) -> Iterator[str]:
    monkeypatch.setattr(alert_webhook.AlertHandler, "expected_authorization", LOGIN)
    server = ThreadingHTTPServer(("127.0.0.1", 0), alert_webhook.AlertHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, authorization: str | None = LOGIN, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_notification_is_published_alert_by_alert(url, published):
    assert _post(url, json.dumps(NOTIFICATION).encode()) == 200
    [alert] = published
    assert alert.key == "ScoringJobNotRunning/fraud-scoring" and alert.status == "firing"


@pytest.mark.parametrize("authorization", [None, basic_authorization("prometheus", "wrong"), "Bearer x"])
def test_without_the_login_nothing_is_published(url, published, authorization):
    assert _post(url, json.dumps(NOTIFICATION).encode(), authorization) == 401
    assert published == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"alerts": ["x"]}).encode(), 400),
    ],
)
def test_a_body_that_is_no_notification_is_refused(url, published, body, status):
    assert _post(url, body) == status
    assert published == []


@pytest.mark.parametrize("length", [str(alert_webhook.MAX_BODY_BYTES + 1), "0", "-5", "many"])
def test_a_body_announced_too_long_empty_or_garbled_is_refused_unread(url, published, length):
    """Judged by its Content-Length before a byte of it is read (sending a real megabyte here would race
    the server closing the connection on the 413)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", parts.path)
    for name, value in (("Authorization", LOGIN), ("Content-Length", length)):
        connection.putheader(name, value)
    connection.endheaders(b"{}")
    assert connection.getresponse().status == 413
    connection.close()
    assert published == []


def test_alertmanager_is_told_to_retry_when_the_broker_does_not_take_the_alerts(url, monkeypatch):
    def undelivered(alerts):
        raise RuntimeError("platform alerts ScoringJobNotRunning/fraud-scoring not delivered: timed out")

    monkeypatch.setattr(alert_webhook.platform_alerts, "publish_all", undelivered)
    assert _post(url, json.dumps(NOTIFICATION).encode()) == 503
