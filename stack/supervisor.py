"""Talks to the supervisord that runs the stack (stack/supervisord.conf), over its UNIX socket."""

from __future__ import annotations

import os
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from include import config

CONF = config.REPO_ROOT / "stack" / "supervisord.conf"

# supervisord process states (supervisor.states.ProcessStates) that mean "not running and not coming".
DEAD_STATES = {"FATAL", "EXITED", "STOPPED", "UNKNOWN"}


@dataclass(frozen=True)
class ProgramInfo:
    name: str
    state: str
    pid: int
    uptime_s: int


def _socket() -> Path:
    return Path(config.get("RUN_DIR")) / "supervisor.sock"


def _proxy():
    url = f"unix://{_socket()}"
    return xmlrpc.client.ServerProxy("http://localhost", transport=SupervisorTransport(None, None, url))


def is_running() -> bool:
    if not _socket().exists():
        return False
    try:
        _proxy().supervisor.getState()
        return True
    except (OSError, xmlrpc.client.Fault):
        return False


def start_daemon(env: dict[str, str]) -> None:
    """Starts supervisord (it daemonizes) with the platform settings as its environment."""
    if is_running():
        return
    subprocess.run(
        [str(Path(config.get("VENV_DIR")) / "app" / "bin" / "supervisord"), "-c", str(CONF)],
        env=env, check=True,
    )
    deadline = time.monotonic() + 20
    while not is_running():
        if time.monotonic() > deadline:
            raise RuntimeError(f"supervisord did not answer on {_socket()} within 20 s")
        time.sleep(0.2)


def start(program: str) -> None:
    """Starts a program without waiting for it to be up (its health check does the waiting)."""
    info = program_info(program)
    if info.state in ("RUNNING", "STARTING"):
        return
    _proxy().supervisor.startProcess(program, False)


def stop(program: str) -> None:
    if program_info(program).state in ("RUNNING", "STARTING", "BACKOFF"):
        _proxy().supervisor.stopProcess(program, True)


def program_info(program: str) -> ProgramInfo:
    raw = _proxy().supervisor.getProcessInfo(program)
    uptime = raw["now"] - raw["start"] if raw["statename"] == "RUNNING" else 0
    return ProgramInfo(program, raw["statename"], raw["pid"], uptime)


def all_programs() -> dict[str, ProgramInfo]:
    if not is_running():
        return {}
    return {p["name"]: program_info(p["name"]) for p in _proxy().supervisor.getAllProcessInfo()}


def shutdown(timeout_s: float = 400) -> None:
    """Stops every program (in reverse priority order) and then supervisord itself. The bound covers
    every program using all of its `stopwaitsecs` (350 s in all) before supervisord kills it."""
    if not is_running():
        return
    pid_file = Path(config.get("RUN_DIR")) / "supervisord.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    _proxy().supervisor.shutdown()
    deadline = time.monotonic() + timeout_s
    while pid and _alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"supervisord (pid {pid}) still running after {timeout_s:.0f} s")
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def process_tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (a JVM, or Airflow and its workers)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        child = int(entry.name)
        children.setdefault(int(fields["PPid"].strip()), []).append(child)
        rss[child] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total
