"""The local stack tool: `python -m stack up|down|status|logs|clean` (run through stack/run or make).

up      installs what is missing, then starts the services stage by stage (stack/services.py STAGES),
        waiting for each to be healthy; a service that fails or does not become healthy in time is
        named, the tail of its log printed, and the command exits 1.
down    stops every service supervisord started, and supervisord itself.
restart stops one service, renders its config again and starts it (e.g. after editing stack/conf/).
status  one line per service: processes, resident memory, health.
logs    the tail of one or all service logs (-f to follow).
credentials  the logins `make up` generated (it prints them once, when it generates them).
clean   down, then delete the data, logs and credentials (.stack/); downloads in CACHE_DIR stay.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from include import settings
from stack import credentials, install, supervisor
from stack.services import SERVICES, STAGES, Service, environment_without_ca_overrides


class StackError(RuntimeError):
    pass


def _say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def _log_file(program: str) -> Path:
    return Path(settings.get("LOG_DIR")) / f"{program}.log"


def _log_tail(program: str, lines: int = 40) -> str:
    path = _log_file(program)
    if not path.exists():
        return f"(no log at {path})"
    content = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last {len(content)} lines of {path} ---\n" + "\n".join(content)


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((settings.get("BIND_HOST"), port)) == 0


def _start(service: Service) -> None:
    states = {p: supervisor.program_info(p).state for p in service.programs}
    if all(state == "RUNNING" for state in states.values()):
        return
    # A port is only someone else's when none of this service's programs is alive (a partly started
    # service holds its own ports).
    if not any(state in ("RUNNING", "STARTING", "BACKOFF") for state in states.values()):
        for var in service.ports:
            port = settings.get_int(var)
            if _port_in_use(port):
                raise StackError(
                    f"{service.name}: port {port} ({var}) is already in use by a process this "
                    f"stack did not start; stop it or set {var} in the environment"
                )
    if service.prepare:
        try:
            service.prepare()
        except Exception as error:
            raise StackError(f"{service.name}: preparing it failed: {error}") from error
    for program in service.programs:
        supervisor.start(program)


def _wait_healthy(service: Service) -> str:
    deadline = time.monotonic() + service.timeout_s
    last_error = "no check ran"
    while time.monotonic() < deadline:
        for program in service.programs:
            state = supervisor.program_info(program).state
            if state in supervisor.DEAD_STATES:
                raise StackError(f"{service.name}: process {program} is {state}\n{_log_tail(program)}")
        try:
            return service.check()
        except Exception as error:  # any failure of a health check means "not yet"
            last_error = f"{type(error).__name__}: {error}"
        time.sleep(1)
    tails = "\n".join(_log_tail(p) for p in service.programs)
    raise StackError(f"{service.name}: not healthy after {service.timeout_s} s ({last_error})\n{tails}")


def service_environment() -> dict[str, str]:
    return {**environment_without_ca_overrides(), **settings.all_settings()}


def up(_: argparse.Namespace) -> None:
    began = time.monotonic()
    generated = credentials.ensure()
    os.environ.update(settings.all_settings())  # this process's own commands (migrations, dbt parse) too
    install.everything()
    for name in ("DATA_DIR", "LOG_DIR", "RUN_DIR"):
        Path(settings.get(name)).mkdir(parents=True, exist_ok=True)
    supervisor.start_daemon(service_environment())
    known = supervisor.all_programs()
    unknown = [p for service in SERVICES.values() for p in service.programs if p not in known]
    if unknown:  # a supervisord started before this version added them, with the environment of then
        raise StackError(f"the running stack predates {', '.join(unknown)}: `make down`, then `make up`")
    for stage in STAGES:
        services = [SERVICES[name] for name in stage]
        stage_began = time.monotonic()
        for service in services:
            _start(service)
        for service in services:
            detail = _wait_healthy(service)
            if service.initialize:
                service.initialize()
            _say(f"{service.name:<13} healthy after {time.monotonic() - stage_began:5.1f} s  {detail}")
    _say(f"all services healthy in {time.monotonic() - began:.0f} s")
    _print_urls()
    if generated and os.environ.get("CI"):  # a CI log is kept and shared: say where they are, not what
        print(f"Generated credentials into {credentials.credentials_file()} (`make credentials` shows them)\n")
    elif generated:
        print(
            f"Generated credentials (shown this once; `make credentials` shows them again):\n{credentials.describe()}\n"
        )


def _print_urls() -> None:
    s = settings.all_settings()
    print(
        f"""
  Airflow UI   {s["AIRFLOW_URL"]}   (user {s["AIRFLOW_ADMIN_USER"]}; passwords: make credentials)
  Flink UI     {s["FLINK_UI_URL"]}   (user {s["FLINK_UI_USER"]})
  Trino        {s["TRINO_URL"]}   (catalog {s["ICEBERG_CATALOG_NAME"]}, user {s["TRINO_USER"]})
  MLflow       {s["MLFLOW_TRACKING_URI"]}   (user {s["MLFLOW_TRACKING_USERNAME"]})
  Fraud report {s["REPORT_URL"]}   (the Trino login)
  Prometheus   {s["PROMETHEUS_URL"]}   (user {s["MONITORING_USER"]}; alerts: {s["ALERTMANAGER_URL"]}, same login)
  Operations   {s["DASHBOARD_URL"]}   (the job's key graphs; the Prometheus login)
  Kafka        {s["KAFKA_BOOTSTRAP"]}   ({s["KAFKA_SASL_MECHANISM"]}, user {s["KAFKA_USERNAME"]})
  DynamoDB     {s["DYNAMODB_ENDPOINT"]}
  S3           {s["S3_ENDPOINT"]}   (buckets {s["ICEBERG_WAREHOUSE_BUCKET"]}, {s["MLFLOW_ARTIFACTS_BUCKET"]})
  Logs         {s["LOG_DIR"]}   (make logs SERVICE=<name>)
""",
        flush=True,
    )


def restart(args: argparse.Namespace) -> None:
    """Stops one service, renders its config again, starts it and waits until it is healthy."""
    if args.service not in SERVICES:
        raise StackError(f"unknown service {args.service!r}; one of: {', '.join(SERVICES)}")
    service = SERVICES[args.service]
    for program in reversed(service.programs):
        supervisor.stop(program)
    _start(service)
    began = time.monotonic()
    detail = _wait_healthy(service)
    if service.initialize:
        service.initialize()
    _say(f"{service.name:<13} healthy after {time.monotonic() - began:5.1f} s  {detail}")


def down(_: argparse.Namespace) -> None:
    if not supervisor.is_running():
        _say("nothing running")
        return
    supervisor.shutdown()
    _say("all services stopped")


def status(_: argparse.Namespace) -> None:
    programs = supervisor.all_programs()
    processes = supervisor.process_table()
    unhealthy = 0
    print(f"{'service':<10} {'processes':<28} {'RSS MiB':>8}  health")
    for service in SERVICES.values():
        infos = [programs.get(p) for p in service.programs]
        running = sum(1 for i in infos if i and i.state == "RUNNING")
        states = f"{running}/{len(infos)} running" + "".join(
            f", {p} {i.state if i else 'DOWN'}"
            for p, i in zip(service.programs, infos)
            if not i or i.state != "RUNNING"
        )
        rss = sum(supervisor.process_tree_rss_kib(i.pid, processes) for i in infos if i and i.pid) / 1024
        try:
            health = "ok: " + service.check() if any(i and i.state == "RUNNING" for i in infos) else "down"
        except Exception as error:
            health = f"FAILING: {type(error).__name__}: {error}"
        if not health.startswith("ok"):
            unhealthy += 1
        print(f"{service.name:<10} {states:<28} {rss:8.0f}  {health}")
    if unhealthy:
        sys.exit(1)


def logs(args: argparse.Namespace) -> None:
    if args.service:
        if args.service not in SERVICES:
            raise StackError(f"unknown service {args.service!r}; one of: {', '.join(SERVICES)}")
        programs = SERVICES[args.service].programs
    else:
        programs = tuple(p for s in SERVICES.values() for p in s.programs)
    files = [str(_log_file(p)) for p in programs if _log_file(p).exists()]
    if not files:
        raise StackError(f"no logs yet in {settings.get('LOG_DIR')}")
    subprocess.run(["tail", f"-n{args.lines}", *(["-F"] if args.follow else []), *files], check=False)


def show_credentials(_: argparse.Namespace) -> None:
    """Generates the credentials if there are none yet (docker compose users start here: it writes .env)."""
    credentials.ensure()
    print(credentials.describe())


def clean(args: argparse.Namespace) -> None:
    down(args)
    shutil.rmtree(settings.get("STACK_HOME"), ignore_errors=True)
    _say(f"deleted {settings.get('STACK_HOME')} (downloads in {settings.get('CACHE_DIR')} kept)")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up").set_defaults(func=up)
    commands.add_parser("down").set_defaults(func=down)
    restart_parser = commands.add_parser("restart")
    restart_parser.add_argument("service")
    restart_parser.set_defaults(func=restart)
    commands.add_parser("status").set_defaults(func=status)
    commands.add_parser("install").set_defaults(func=lambda _: install.everything())
    log_parser = commands.add_parser("logs")
    log_parser.add_argument("service", nargs="?")
    log_parser.add_argument("-n", "--lines", type=int, default=60)
    log_parser.add_argument("-f", "--follow", action="store_true")
    log_parser.set_defaults(func=logs)
    commands.add_parser("clean").set_defaults(func=clean)
    commands.add_parser("credentials").set_defaults(func=show_credentials)
    args = parser.parse_args()
    try:
        args.func(args)
    except (StackError, install.InstallError, credentials.CredentialsError) as error:
        print(f"[stack] ERROR {error}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
