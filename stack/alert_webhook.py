"""Alertmanager's receiver: puts each alert of a webhook notification on the platform alerts topic
(include/platform_alerts.py), firing and resolved, where the Airflow failure alerts go too.

Alertmanager signs in as METRICS_SCRAPE_USER (HTTP Basic, loopback only). The notification is answered
200 only once the broker has every alert of it: an error makes Alertmanager retry, so an alert is
delivered at least once (a repeat has the same key, name/subject, and status). Bodies are bounded
(MAX_BODY_BYTES; `max_alerts: 0` sends a group whole, and a group is one alert name and subject).
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from include import platform_alerts, settings
from stack.http_login import basic_authorization, is_signed_in

MAX_BODY_BYTES = 1_000_000
log = logging.getLogger("alert_webhook")


class AlertHandler(BaseHTTPRequestHandler):
    expected_authorization = ""  # set by serve()

    def _answer(self, status: int, text: str = "") -> None:
        body = text.encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="alert-webhook", charset="UTF-8"')
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        if not is_signed_in(self.headers.get("Authorization", ""), self.expected_authorization):
            return self._answer(401)
        if self.path != "/alerts":
            return self._answer(404)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            return self._answer(413, f"a notification is 1 to {MAX_BODY_BYTES} bytes")
        try:
            alerts = platform_alerts.from_alertmanager(json.loads(self.rfile.read(length)))
        except (ValueError, AttributeError, TypeError) as bad:
            return self._answer(400, f"not an Alertmanager notification: {bad}")
        try:
            platform_alerts.publish_all(alerts)
        except RuntimeError as undelivered:
            log.error("%s", undelivered)
            return self._answer(503, str(undelivered))
        for alert in alerts:
            log.info("%s %s (%s)", alert.status, alert.key, alert.severity)
        self._answer(200, f"{len(alerts)} alerts published")

    def do_GET(self) -> None:
        """The health check: answers a signed-in caller."""
        if not is_signed_in(self.headers.get("Authorization", ""), self.expected_authorization):
            return self._answer(401)
        self._answer(200, "ok")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug(format, *args)


def serve() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    user, password = settings.get("METRICS_SCRAPE_USER"), settings.get("METRICS_SCRAPE_PASSWORD")
    if not password:
        raise SystemExit("METRICS_SCRAPE_PASSWORD is not set: the alert webhook takes no alert without a login")
    AlertHandler.expected_authorization = basic_authorization(user, password)
    address = (settings.get("BIND_HOST"), settings.get_int("ALERT_WEBHOOK_PORT"))
    with ThreadingHTTPServer(address, AlertHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    serve()
