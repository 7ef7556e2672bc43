"""Every service of the local stack listens on loopback only (the README and platform.env promise it)."""

from __future__ import annotations

import ipaddress

import psutil

from stack import supervisor


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
    exposed = {name: sorted(addr for addr in _listening(info.pid) if not _is_loopback(addr[0]))
               for name, info in programs.items()}
    assert {name: addrs for name, addrs in exposed.items() if addrs} == {}
