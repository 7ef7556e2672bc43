"""Every service of the local stack listens on loopback only (the README and the settings promise it),
with one exception that no setting can remove, checked to stay that narrow; Flink's REST API takes no
jars."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import psutil
import requests

from include import settings
from stack import supervisor

# PyFlink runs Python UDFs through Beam's fn API: for each Python worker the TaskManager opens gRPC
# servers (control, data, state, logging) with Beam's ServerFactory, which binds every interface on
# an ephemeral port and takes no bind address. Only those may listen beyond loopback.
BEAM_FN_API_HOST = "flink-taskmanager"
EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def _listening(pid: int) -> set[tuple[str, int]]:
    process = psutil.Process(pid)
    addresses = set()
    for member in (process, *process.children(recursive=True)):
        try:
            connections = member.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        addresses |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return addresses


def _is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback  # ::ffff:127.0.0.1 too


def test_every_service_listens_on_loopback_only():
    programs = {name: info for name, info in supervisor.all_programs().items() if info.pid}
    assert len(programs) >= 10, programs
    exposed = {}
    for name, info in programs.items():
        addresses = [addr for addr in _listening(info.pid) if not _is_loopback(addr[0])]
        if name == BEAM_FN_API_HOST:
            addresses = [(ip, port) for ip, port in addresses if port < EPHEMERAL_LOW]
        if addresses:
            exposed[name] = sorted(addresses)
    assert exposed == {}


def test_flink_rest_api_takes_no_jar_uploads():
    """Jobs are submitted by the `flink` CLI; the REST API's jar upload and run endpoints are off, while
    the job overview the health checks read still answers."""
    rest = settings.get("FLINK_REST_URL")
    upload = requests.post(f"{rest}/jars/upload", files={"jarfile": ("x.jar", b"PK\x05\x06" + bytes(18))}, timeout=10)
    assert 400 <= upload.status_code < 500, upload.text[:300]  # no handler: "POST request not allowed"
    assert requests.get(f"{rest}/jars", timeout=10).status_code == 404
    assert requests.get(f"{rest}/jobs/overview", timeout=10).status_code == 200
