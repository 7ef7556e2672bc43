"""stack/flink_ui_proxy.py: a login in front of Flink's mutual-TLS REST endpoint, passing requests through.

Against an in-process HTTPS upstream on loopback that, like Flink with `security.ssl.rest.authentication-
enabled`, requires a client certificate signed by (here: equal to) its own self-signed one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stack import credentials, flink_ui_proxy
from stack.http_login import basic_authorization

USER, PASSWORD = "flink-admin", "s3cret-for-tests"
LOGIN = basic_authorization(USER, PASSWORD)
MiB = 1024 * 1024
BIG = random.Random(0).randbytes(5 * MiB)  # a TaskManager log's worth
JOB_ID = "a2c4e6a8b0d2f4a6c8e0a2c4e6a8b0d2"


@dataclass
class Pair:
    """A key and its self-signed certificate (PEM files), valid for 127.0.0.1."""

    key_file: str
    cert_file: str


def self_signed(directory: Path, name: str) -> Pair:
    key, certificate = credentials.self_signed_certificate("127.0.0.1", ("localhost",), name)
    pair = Pair(str(directory / f"{name}.key"), str(directory / f"{name}.pem"))
    Path(pair.key_file).write_text(key)
    Path(pair.cert_file).write_text(certificate)
    return pair


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Pair:
    """The platform's certificate: Flink's server certificate, the CA, and the client certificate at once."""
    return self_signed(tmp_path_factory.mktemp("tls"), "platform")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> Pair:
    return self_signed(tmp_path_factory.mktemp("tls-other"), "stranger")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_subject: tuple


@dataclass
class Upstream:
    url: str
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # lets /stream send its second part
    released_in_time: bool | None = None


class FlinkLike(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: Upstream  # set per server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        subject = self.connection.getpeercert()["subject"]
        self.upstream.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body, subject))
        if self.path.startswith("/stream"):
            return self._stream()
        if self.path == "/big":
            status, data = 200, BIG
        elif self.command == "PATCH":
            status, data = 202, json.dumps({"echo": json.loads(body)}).encode()
        else:
            status, data = 200, json.dumps({"jobs": [{"jid": JOB_ID, "state": "RUNNING"}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Flink-Test", "from-upstream")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Connection", "keep-alive, X-Connection-Only")
        self.send_header("X-Connection-Only", "not for the browser")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self) -> None:
        """5 MiB, chunked: the first MiB, then the rest only once the test has read that MiB via the proxy."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (BIG[:MiB], None, BIG[MiB:], b""):
            if part is None:
                self.upstream.released_in_time = self.upstream.release.wait(timeout=5)
                continue
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.close_connection = True

    do_GET = do_HEAD = do_PATCH = do_POST = _answer


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def mutual_tls_upstream(pair: Pair) -> tuple[ThreadingHTTPServer, Upstream]:
    """An HTTPS server with `pair`'s certificate that requires a client certificate `pair`'s one vouches for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert_file, pair.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pair.cert_file)
    handler = type("Handler", (FlinkLike,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    handler.upstream = Upstream(f"https://127.0.0.1:{server.server_address[1]}")
    return server, handler.upstream


@pytest.fixture
def upstream(platform) -> Iterator[Upstream]:
    server, state = mutual_tls_upstream(platform)
    with serving(server):
        yield state


@contextlib.contextmanager
def proxy(upstream_url: str, tls_context: ssl.SSLContext) -> Iterator[int]:
    """The proxy on an ephemeral port (yielded), the way serve() makes it."""
    with serving(flink_ui_proxy.make_server("127.0.0.1", 0, upstream_url, tls_context, LOGIN)) as server:
        yield server.server_address[1]


@pytest.fixture
def proxy_port(upstream, platform) -> Iterator[int]:
    context = flink_ui_proxy.upstream_tls_context(platform.cert_file, platform.cert_file, platform.key_file)
    with proxy(upstream.url, context) as port:
        yield port


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(method, path, body=body, headers={"Authorization": LOGIN, **(headers or {})})
    response = connection.getresponse()
    return response, response.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "authorization",
    [None, basic_authorization(USER, "wrong"), basic_authorization("someone", PASSWORD), "Bearer " + PASSWORD],
)
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_without_the_login_nothing_reaches_flink(proxy_port, upstream, authorization, method):
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=20)
    headers = {"Authorization": authorization} if authorization else {}
    connection.request(
        method, f"/jobs/{JOB_ID}?mode=cancel", body=b"{}" if method == "PATCH" else None, headers=headers
    )
    response = connection.getresponse()
    assert response.status == 401
    assert response.getheader("WWW-Authenticate", "").startswith("Basic realm=")
    assert JOB_ID not in response.read().decode()
    assert upstream.seen == []


def test_get_comes_back_as_flink_answered_without_our_login(proxy_port, upstream):
    response, body = call(proxy_port, "GET", "/jobs/overview?filter=a%20b&x=1", headers={"Accept": "application/json"})
    assert response.status == 200
    assert json.loads(body) == {"jobs": [{"jid": JOB_ID, "state": "RUNNING"}]}
    assert response.getheader("X-Flink-Test") == "from-upstream"
    assert response.getheader("Content-Type") == "application/json; charset=UTF-8"
    [seen] = upstream.seen
    assert (seen.method, seen.path) == ("GET", "/jobs/overview?filter=a%20b&x=1")
    assert "authorization" not in {name.lower() for name in seen.headers}
    assert seen.headers["Accept"] == "application/json"
    assert (
        (("commonName", "fraud-platform local platform"),),
    ) == seen.client_subject  # the proxy presented the certificate


def test_patch_with_a_json_body_is_forwarded(proxy_port, upstream):
    sent = json.dumps({"mode": "cancel", "note": "é"}).encode()
    response, body = call(
        proxy_port, "PATCH", f"/jobs/{JOB_ID}?mode=cancel", sent, {"Content-Type": "application/json"}
    )
    assert response.status == 202
    assert json.loads(body) == {"echo": json.loads(sent)}
    assert response.getheader("X-Flink-Test") == "from-upstream"
    [seen] = upstream.seen
    assert (seen.method, seen.path, seen.body) == ("PATCH", f"/jobs/{JOB_ID}?mode=cancel", sent)
    assert seen.headers["Content-Type"] == "application/json"
    assert "authorization" not in {name.lower() for name in seen.headers}


def test_head_is_forwarded_without_a_body(proxy_port, upstream):
    response, body = call(proxy_port, "HEAD", "/config")
    assert (response.status, body) == (200, b"")
    assert [seen.method for seen in upstream.seen] == ["HEAD"]


def test_hop_by_hop_headers_stay_on_their_side(proxy_port, upstream):
    response, _ = call(
        proxy_port, "GET", "/overview", headers={"Connection": "close, X-Browser-Hop", "X-Browser-Hop": "1", "TE": "x"}
    )
    seen = {name.lower() for name in upstream.seen[0].headers}
    assert not seen & {"x-browser-hop", "te", "authorization"}
    sent_back = {name.lower() for name, _ in response.getheaders()}
    assert not sent_back & {"keep-alive", "x-connection-only"}
    assert response.getheader("Connection") == "close"


def test_a_5_mib_response_comes_back_intact(proxy_port, upstream):
    response, body = call(proxy_port, "GET", "/big")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(BIG))
    assert body == BIG


def test_a_response_is_streamed_not_read_whole_first(proxy_port, upstream):
    """Flink sends the first MiB and waits: the browser gets it (and the headers) before Flink sends more."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=20)
    connection.request("GET", "/stream/taskmanager.log", headers={"Authorization": LOGIN})
    response = connection.getresponse()
    first = response.read(MiB)
    upstream.release.set()
    rest = response.read()
    assert upstream.released_in_time is True
    assert first + rest == BIG


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("Content-Length", str(2 * MiB), 413),
        ("Content-Length", str(flink_ui_proxy.MAX_REQUEST_BODY + 1), 413),
        ("Transfer-Encoding", "chunked", 411),
        ("Content-Length", "-1", 400),
    ],
)
def test_a_body_it_does_not_take_is_refused_before_it_is_read(proxy_port, upstream, header, value, status):
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=20)
    connection.putrequest("POST", "/jars/upload")
    connection.putheader("Authorization", LOGIN)
    connection.putheader(header, value)
    connection.endheaders()  # the body is never sent: the answer comes on the headers alone
    response = connection.getresponse()
    assert response.status == status
    assert upstream.seen == []


def test_a_body_at_the_limit_is_taken(proxy_port, upstream):
    sent = json.dumps({"pad": "x" * (flink_ui_proxy.MAX_REQUEST_BODY - 20)}).encode()
    assert len(sent) <= flink_ui_proxy.MAX_REQUEST_BODY
    response, _ = call(proxy_port, "PATCH", "/jobs/x", sent, {"Content-Type": "application/json"})
    assert response.status == 202
    assert upstream.seen[0].body == sent


def test_flink_down_is_a_502_with_one_line(platform):
    context = flink_ui_proxy.upstream_tls_context(platform.cert_file, platform.cert_file, platform.key_file)
    with proxy(f"https://127.0.0.1:{free_port()}", context) as port:
        response, body = call(port, "GET", "/overview")
        assert response.status == 502
        assert body.decode().count("\n") == 1 and "Traceback" not in body.decode()


def test_flink_refusing_our_certificate_is_a_502(upstream, platform, stranger):
    """A proxy holding another certificate than the one Flink trusts: Flink ends the handshake."""
    context = flink_ui_proxy.upstream_tls_context(platform.cert_file, stranger.cert_file, stranger.key_file)
    with proxy(upstream.url, context) as port:
        response, _ = call(port, "GET", "/overview")
        assert response.status == 502
    assert upstream.seen == []


def test_an_upstream_with_another_certificate_is_not_trusted(platform, stranger):
    """Only FLINK_REST_CA_FILE vouches for Flink: a server with any other certificate is refused."""
    server, impostor = mutual_tls_upstream(stranger)
    context = flink_ui_proxy.upstream_tls_context(platform.cert_file, platform.cert_file, platform.key_file)
    with serving(server):
        host, port = server.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname=host)
        with proxy(impostor.url, context) as proxy_port:
            response, body = call(proxy_port, "GET", "/overview")
            assert response.status == 502
            assert b"RUNNING" not in body
    assert impostor.seen == []


def test_only_an_https_upstream_is_accepted(platform):
    context = flink_ui_proxy.upstream_tls_context(platform.cert_file, platform.cert_file, platform.key_file)
    with pytest.raises(ValueError, match="https"):
        flink_ui_proxy.make_server("127.0.0.1", 0, "http://127.0.0.1:8081", context, LOGIN)


def test_it_refuses_to_start_without_a_password(monkeypatch):
    values = {"FLINK_UI_USER": USER, "FLINK_UI_PASSWORD": ""}
    monkeypatch.setattr(flink_ui_proxy.settings, "get", values.__getitem__)
    with pytest.raises(SystemExit, match="FLINK_UI_PASSWORD"):
        flink_ui_proxy.serve()
