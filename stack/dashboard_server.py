"""Serves the operators' dashboard (include/ops_dashboard.py) to those who sign in as MONITORING_USER.

The page is drawn from Prometheus on request and kept CACHE_S seconds: a dozen people refreshing cost
one set of queries. Anything but GET / (or HEAD /) is a 404; a request without the login a 401.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from include import ops_dashboard, settings
from stack.http_login import basic_authorization, is_signed_in, refuse

REALM = "fraud-operations"
CACHE_S = 10


class DashboardPage:
    """The drawn page, redrawn when older than CACHE_S (one drawing at a time)."""

    def __init__(self, draw=ops_dashboard.build, clock=time.monotonic):
        self.draw, self.clock = draw, clock
        self._lock = threading.Lock()
        self._page, self._drawn_at = b"", float("-inf")

    def current(self) -> bytes:
        with self._lock:
            if self.clock() - self._drawn_at >= CACHE_S:
                self._page, self._drawn_at = self.draw().encode(), self.clock()
            return self._page


class DashboardHandler(BaseHTTPRequestHandler):
    expected_authorization = ""  # set by serve()
    page: DashboardPage

    def _answer(self, with_body: bool) -> None:
        if not is_signed_in(self.headers.get("Authorization", ""), self.expected_authorization):
            refuse(self, REALM)
            return
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        try:
            body = self.page.current()
        except Exception as error:  # noqa: BLE001 - Prometheus down: say so on the page's address
            self.send_error(502, f"Prometheus did not answer: {type(error).__name__}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)


def serve() -> None:
    password = settings.get("MONITORING_PASSWORD")
    if not password:
        raise SystemExit("MONITORING_PASSWORD is not set: the dashboard serves no one without a login")
    DashboardHandler.expected_authorization = basic_authorization(settings.get("MONITORING_USER"), password)
    DashboardHandler.page = DashboardPage()
    address = (settings.get("BIND_HOST"), settings.get_int("DASHBOARD_PORT"))
    with ThreadingHTTPServer(address, DashboardHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    serve()
