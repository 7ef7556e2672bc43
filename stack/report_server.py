"""Serves the fraud report page (REPORT_DIR, written by include/report.py) to those who log in.

The page shows card numbers and amounts, so it asks for the analysts' login: the Trino user and
password (`make credentials`), over HTTP Basic authentication on loopback. Anything else is a 401.
"""

from __future__ import annotations

import base64
import functools
import hmac
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from include import settings

REALM = "fraud-report"


class ReportHandler(SimpleHTTPRequestHandler):
    expected_authorization = ""  # set by serve()

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), self.expected_authorization.encode())

    def _refuse(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self._authorized():
            super().do_GET()
        else:
            self._refuse()

    def do_HEAD(self) -> None:
        if self._authorized():
            super().do_HEAD()
        else:
            self._refuse()


def basic_authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def serve() -> None:
    user, password = settings.get("TRINO_USER"), settings.get("TRINO_PASSWORD")
    if not password:
        raise SystemExit("TRINO_PASSWORD is not set: the report page serves no one without a login")
    ReportHandler.expected_authorization = basic_authorization(user, password)
    handler = functools.partial(ReportHandler, directory=settings.get("REPORT_DIR"))
    with ThreadingHTTPServer((settings.get("BIND_HOST"), settings.get_int("REPORT_PORT")), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    serve()
