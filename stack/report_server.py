"""Serves the fraud report page (REPORT_DIR, written by include/report.py) to those who log in.

The page shows card numbers and amounts, so it asks for the analysts' login: the Trino user and
password (`make credentials`), over HTTP Basic authentication on loopback. Anything else is a 401.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from include import settings
from stack.http_login import basic_authorization, is_signed_in, refuse

REALM = "fraud-report"


class ReportHandler(SimpleHTTPRequestHandler):
    expected_authorization = ""  # set by serve()

    def _authorized(self) -> bool:
        return is_signed_in(self.headers.get("Authorization", ""), self.expected_authorization)

    def _refuse(self) -> None:
        refuse(self, REALM)

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
