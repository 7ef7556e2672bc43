"""What the metrics cost the job: its sustained throughput with Flink's Prometheus reporter on (scraped by
Prometheus every 15 s) and off, alternating, in one run on one machine.

  python -m bench.reporter_overhead [--rounds 2] [--transactions 200000] [--max-seconds 90]

Each measurement restarts the Flink cluster with the reporter on (FLINK_METRICS_REPORTERS=prometheus) or
off (none), checks the reporter's port answers or not, then runs bench.benchmark's throughput measurement
of the job as deployed ("batched": its own topics, tables and DynamoDB table, a backlog waiting). Rounds
alternate the order (on, off; off, on) so a drift of the machine's speed falls on both. The health DAG is
paused meanwhile (it would restart the platform's job on each restarted cluster, beside the one measured)
and unpaused at the end, leaving the cluster with the reporter on; the health DAG then restarts the
platform's job. Target (issue 20): under 5 % of throughput.

Printed, and written to bench/results/reporter-overhead-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
from datetime import UTC, datetime

from bench import benchmark
from include import airflow_api, settings
from producer.simulator import Simulator

HEALTH = "fraud_scoring_health"
MODES = {"on": "prometheus", "off": "none"}


def restart_flink(mode: str) -> None:
    env = {**os.environ, "FLINK_METRICS_REPORTERS": MODES[mode]}
    subprocess.run([str(settings.REPO_ROOT / "stack" / "run"), "restart", "flink"], env=env, check=True, timeout=600)
    address = (settings.get("BIND_HOST"), settings.get_int("FLINK_TASKMANAGER_METRICS_PORT"))
    try:
        socket.create_connection(address, timeout=3).close()
        listening = True
    except OSError:
        listening = False
    if listening != (mode == "on"):
        raise RuntimeError(f"reporter {mode} but its port {address[1]} {'answers' if listening else 'is closed'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reporter_overhead",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--max-seconds", type=float, default=90)
    args = parser.parse_args(argv)

    simulation = Simulator(args.cards, seed=2026, start_ms=benchmark.START_MS, days=30).transactions()
    items = [item for _, item in zip(range(args.transactions), simulation)]
    measured: dict[str, list[float]] = {"on": [], "off": []}
    with airflow_api.paused(HEALTH):
        try:
            for round_number in range(args.rounds):
                for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                    restart_flink(mode)
                    result = benchmark.DesignResult("batched")
                    benchmark.measure_throughput("batched", items, args.max_seconds, result)
                    measured[mode].append(result.sustained_tx_per_s)
                    print(f"[bench] round {round_number + 1}, reporter {mode}: {result.sustained_tx_per_s:,.0f} tx/s")
        finally:
            restart_flink("on")

    on, off = statistics.median(measured["on"]), statistics.median(measured["off"])
    overhead = 1 - on / off if off else float("nan")
    text = (
        f"reporter on  (tx/s): {', '.join(f'{v:,.0f}' for v in measured['on'])}  median {on:,.0f}\n"
        f"reporter off (tx/s): {', '.join(f'{v:,.0f}' for v in measured['off'])}  median {off:,.0f}\n"
        f"overhead: {overhead:.1%} of throughput (target under 5 %)"
    )
    print(text)
    out = benchmark.BENCH / "results" / f"reporter-overhead-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"arguments": vars(args), "tx_per_s": measured, "overhead": overhead}, indent=2))
    print(f"[bench] results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
