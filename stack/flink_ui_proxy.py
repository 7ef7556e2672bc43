"""Lets people into the Flink web UI, which answers only callers holding the platform's client certificate.

Flink's REST API and web UI (one endpoint, FLINK_REST_URL) take HTTPS with mutual TLS: the flink CLI and the
Python REST client present the certificate, but a browser would need it installed. So people come here,
on FLINK_UI_PORT: an HTTP Basic login (FLINK_UI_USER, FLINK_UI_PASSWORD) on loopback, after which each
request goes on to Flink over TLS, Flink's certificate checked against FLINK_REST_CA_FILE and ours
presented. Anything without the login is a 401 and never reaches Flink.

The UI asks for everything by relative URL (base href "./", hash routing, REST calls under "."), so it
works on a port of its own with no path prefix. One upstream connection per request, no keep-alive;
responses are streamed in chunks (a TaskManager log is many MB); request bodies are small JSON (jar upload
is disabled on the cluster), so a larger one is refused. A Flink that is down or refuses us is a 502.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from include import settings
from stack.http_login import basic_authorization, is_signed_in

REALM = "flink-ui"
MAX_REQUEST_BODY = 1024 * 1024  # bytes; the UI sends a few hundred at most
CHUNK = 64 * 1024  # bytes relayed at a time
TIMEOUT_S = 30  # on every socket operation, towards Flink and towards the browser
# Headers that describe one connection, not the message (RFC 9110 7.6.1): never passed on.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Not passed to Flink either: our login, and what http.client sets itself for the body it sends.
NOT_FORWARDED = frozenset({"authorization", "host", "content-length", "expect"})


class ProxyServer(ThreadingHTTPServer):
    """Holds what every request needs: where Flink is, how to reach it, and the login to ask for."""

    def __init__(self, address: tuple[str, int], upstream: str, tls_context: ssl.SSLContext, authorization: str):
        parts = urlsplit(upstream)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"the Flink REST endpoint must be https://host:port, not {upstream!r}")
        self.upstream = upstream
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 443
        self.tls_context = tls_context
        self.authorization = authorization
        super().__init__(address, ProxyHandler)


class ProxyHandler(BaseHTTPRequestHandler):
    server: ProxyServer
    timeout = TIMEOUT_S

    def do_GET(self) -> None:
        body = self._request_body()
        if body is None:
            return
        if not self._authorized():
            self._refuse()
        elif not self.path.startswith("/"):
            self._plain(400, "Bad request: only a path is accepted, not a full URL.")
        else:
            self._forward(body)

    do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _authorized(self) -> bool:
        return is_signed_in(self.headers.get("Authorization", ""), self.server.authorization)

    def _refuse(self) -> None:
        self._plain(401, "Log in to see the Flink UI.", ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))

    def _request_body(self) -> bytes | None:
        """The body, read before the login is checked so that a refused caller still reads our answer; None,
        the caller answered, for a body we do not take."""
        if "Transfer-Encoding" in self.headers:
            self._plain(411, "Length required: send the body with a Content-Length.")
            return None
        declared = set(self.headers.get_all("Content-Length") or ["0"])
        length = declared.pop().strip() if len(declared) == 1 else ""
        if not (length.isascii() and length.isdigit()):
            self._plain(400, "Bad request: unreadable Content-Length.")
            return None
        if int(length) > MAX_REQUEST_BODY:
            self._plain(413, f"Request body too large: at most {MAX_REQUEST_BODY} bytes.")
            return None
        try:
            body = self.rfile.read(int(length))
        except OSError as error:
            self.log_error("reading the request body failed: %s", error)
            body = b""
        if len(body) < int(length):
            self.close_connection = True
            return None
        return body

    def _forward(self, body: bytes) -> None:
        server = self.server
        connection = http.client.HTTPSConnection(
            server.upstream_host, server.upstream_port, timeout=TIMEOUT_S, context=server.tls_context
        )
        try:
            try:
                connection.request(self.command, self.path, body=body or None, headers=upstream_headers(self.headers))
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.log_error("Flink at %s did not answer %s %s: %r", server.upstream, self.command, self.path, error)
                self._plain(502, "Bad gateway: Flink's REST endpoint did not answer.")
                return
            self._relay(response)
        finally:
            connection.close()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Flink's status, headers and body, the body a chunk at a time as it arrives."""
        self.log_request(response.status)
        self.send_response_only(response.status, response.reason)
        for name, value in end_to_end(response.getheaders(), response.headers.get_all("Connection") or []):
            self.send_header(name, value)
        self.send_header("Connection", "close")  # the end of the body is the end of the connection if unsized
        self.end_headers()
        try:
            while chunk := response.read1(CHUNK):
                self.wfile.write(chunk)
        except (OSError, http.client.HTTPException) as error:
            self.log_error("relaying %s %s stopped: %r", self.command, self.path, error)

    def _plain(self, status: int, text: str, *headers: tuple[str, str]) -> None:
        data = (text + "\n").encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def end_to_end(headers: Iterable[tuple[str, str]], connection_values: Iterable[str]) -> list[tuple[str, str]]:
    """The headers that belong to the message: without the hop-by-hop ones, nor those Connection names."""
    named = {token.strip().lower() for value in connection_values for token in value.split(",")}
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP | named]


def upstream_headers(request_headers: Message) -> dict[str, str]:
    """What Flink is sent of the browser's headers: no login, nothing about the browser's connection."""
    kept = end_to_end(request_headers.items(), request_headers.get_all("Connection") or [])
    return {name: value for name, value in kept if name.lower() not in NOT_FORWARDED}


def upstream_tls_context(ca_file: str, cert_file: str, key_file: str | None = None) -> ssl.SSLContext:
    """TLS towards Flink: its certificate must chain to `ca_file` (and name its host); ours is presented
    (`cert_file` holds the key too unless `key_file` is given)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)  # that CA alone
    context.load_cert_chain(cert_file, key_file)
    return context


def make_server(bind: str, port: int, upstream: str, tls_context: ssl.SSLContext, authorization: str) -> ProxyServer:
    """The proxy on (bind, port), not yet serving; `authorization` is the whole Authorization header expected."""
    return ProxyServer((bind, port), upstream, tls_context, authorization)


def serve() -> None:
    user, password = settings.get("FLINK_UI_USER"), settings.get("FLINK_UI_PASSWORD")
    if not password:
        raise SystemExit("FLINK_UI_PASSWORD is not set: the Flink UI proxy lets no one in without a login")
    tls_context = upstream_tls_context(settings.get("FLINK_REST_CA_FILE"), settings.get("FLINK_REST_CLIENT_CERT"))
    authorization = basic_authorization(user, password)
    bind, port = settings.get("BIND_HOST"), settings.get_int("FLINK_UI_PORT")
    with make_server(bind, port, settings.get("FLINK_REST_URL"), tls_context, authorization) as server:
        server.serve_forever()


if __name__ == "__main__":
    serve()
