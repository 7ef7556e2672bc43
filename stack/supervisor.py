"""Talks to the supervisord that runs the stack (stack/supervisord.conf), over its UNIX socket."""

from __future__ import annotations

import os
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from include import settings

CONF = settings.REPO_ROOT / "stack" / "supervisord.conf"

# supervisord process states (supervisor.states.ProcessStates) that mean "not running and not coming".
DEAD_STATES = {"FATAL", "EXITED", "STOPPED", "UNKNOWN"}


@dataclass(frozen=True)
class ProgramInfo:
    name: str
    state: str
    pid: int
    uptime_s: int


def _socket() -> Path:
    return Path(settings.get("RUN_DIR")) / "supervisor.sock"


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
        [str(Path(settings.get("VENV_DIR")) / "app" / "bin" / "supervisord"), "-c", str(CONF)],
        env=env,
        check=True,
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
    pid_file = Path(settings.get("RUN_DIR")) / "supervisord.pid"
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


@dataclass(frozen=True)
class ProcessStats:
    ppid: int
    rss_kib: int
    cpu_s: float  # user + system time since the process started


def process_table() -> dict[int, ProcessStats]:
    """Parent, resident memory and CPU time of every process, from one pass over /proc/<pid>/stat."""
    page_kib, hertz = os.sysconf("SC_PAGE_SIZE") // 1024, os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # after the command name (in parentheses, which may hold spaces): state, ppid, ...
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        table[int(entry.name)] = ProcessStats(
            ppid=int(fields[1]), rss_kib=int(fields[21]) * page_kib, cpu_s=(int(fields[11]) + int(fields[12])) / hertz
        )
    return table


def process_tree(pid: int, table: dict[int, ProcessStats]) -> list[int]:
    """`pid` and all its descendants in `table` (a JVM, or Airflow and its workers)."""
    children: dict[int, list[int]] = {}
    for child, stats in table.items():
        children.setdefault(stats.ppid, []).append(child)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def process_tree_rss_kib(pid: int, table: dict[int, ProcessStats] | None = None) -> int:
    """Resident memory of a process and all its descendants; pass `table` to measure several trees at
    one moment with one pass over /proc."""
    table = table if table is not None else process_table()
    return sum(table[p].rss_kib for p in process_tree(pid, table) if p in table)
