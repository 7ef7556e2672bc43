"""HTTP Basic logins of the stack's own small servers (the report page, the Flink UI proxy, the alert
webhook) and of its health checks calling the services that take one."""

from __future__ import annotations

import base64
import hmac
from http.server import BaseHTTPRequestHandler


def basic_authorization(user: str, password: str) -> str:
    """The Authorization header value of `user` signing in with `password`."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def is_signed_in(given_authorization: str, expected_authorization: str) -> bool:
    """Whether a request's Authorization header is the expected one (compared in constant time)."""
    return hmac.compare_digest(given_authorization.encode(), expected_authorization.encode())


def refuse(handler: BaseHTTPRequestHandler, realm: str) -> None:
    """Answers 401, asking for an HTTP Basic login to `realm`; no body."""
    handler.send_response(401)
    handler.send_header("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"')
    handler.send_header("Content-Length", "0")
    handler.end_headers()
