"""Soak: the job at a steady 1,000 tx/s for 30 minutes, its TaskManager killed at minute 15.

Samples every 30 s the resident memory of every service (process and children), the items of the
DynamoDB card table and of its log table (compaction folds the log into the cards), the size of the local
DynamoDB's store on disk, the bytes the scoring UDF's card caches hold (its `card_cache_bytes` gauge,
summed over subtasks) and the bytes of the instance's Kafka topics on disk; then reconciles (every
transaction sent is in Iceberg once, scored or dead-lettered) and prints, per service, the memory trend
after the warm-up as MiB per 10 minutes (least squares over the samples, the TaskManager's from its
restart on, and again over the last 10 minutes: its card caches refill after the restart and grow while
the cards' histories lengthen, so only a flat end tells a full cache from a leak), and writes
bench/results/soak-<time>.json. Run by hand with the stack up and nothing else running:

    PYTHONPATH=. .venvs/app/bin/python -m bench.soak                    # 30 min
    PYTHONPATH=. .venvs/app/bin/python -m bench.soak --minutes 6        # a shorter look
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import faults, pipeline
from include import aws, job_health, scoring_job, settings
from include.lakehouse import trino_query
from include.scoring.card_store import log_table_name
from producer.kafka_writer import KafkaWriter
from producer.simulator import Simulator
from producer.timeline import FEEDBACK, TX, messages
from stack import supervisor

RESULTS = Path(__file__).parent / "results"
START_MS = 1_767_225_600_000  # 2026-01-01
DAY_MS = 86_400_000
CARDS, SEED = 20_000, 4242
RATE = 1000  # transactions per second
SAMPLE_EVERY_S = 30
WARM_UP_S = 300  # caches fill, the JIT settles: samples before this do not count for the trend
LAST_WINDOW_S = 600  # the TaskManager's trend again over the run's last 10 minutes
PARALLELISM = 2


@dataclass
class Sample:
    at_s: float
    rss_mib: dict[str, float]
    card_table_items: int
    log_table_items: int
    dynamodb_store_mib: float
    card_cache_mib: float
    topic_bytes: dict[str, int]
    transactions_sent: int


TASKMANAGER, PYTHON_WORKERS = "flink-taskmanager", "flink-taskmanager: python workers"


def rss_by_program() -> dict[str, float]:
    """MiB resident per supervised program (process and children), and the TaskManager's Python
    workers apart (its JVM is the rest): so a growth shows which side it is on."""
    processes, programs = supervisor.process_table(), supervisor.all_programs()
    rss = {
        name: round(supervisor.process_tree_rss_kib(info.pid, processes) / 1024, 1)
        for name, info in programs.items()
        if info.pid
    }
    taskmanager = programs.get(TASKMANAGER)
    if taskmanager and taskmanager.pid:
        workers = [p for p in supervisor.process_tree(taskmanager.pid, processes) if _command(p).startswith("python")]
        rss[PYTHON_WORKERS] = round(sum(processes[p].rss_kib for p in workers if p in processes) / 1024, 1)
    return rss


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # ended while we looked
        return ""


def topic_bytes(topics: list[str]) -> dict[str, int]:
    """Bytes on the broker's disk per topic (all partitions' segments and indexes)."""
    logs = Path(settings.get("DATA_DIR")) / "kafka"
    return {
        topic: sum(f.stat().st_size for d in logs.glob(f"{topic}-*") for f in d.iterdir() if f.is_file())
        for topic in topics
    }


def directory_mib(directory: Path) -> float:
    return round(sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20, 1)


def card_cache_mib(rest, job_id: str) -> float:
    """What the UDF's card caches hold, summed over subtasks (0 while the job restarts)."""
    try:
        return round(rest.udf_metrics(job_id).get("card_cache_bytes", 0.0) / 2**20, 1)
    except requests.RequestException:  # during the restart the job's vertices may not answer
        return 0.0


def item_count(dynamodb, table: str) -> int:
    """Items in a DynamoDB table, counted by a scan (dynalite keeps no ItemCount)."""
    count = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT"):
        count += page["Count"]
    return count


def trend_mib_per_10_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB), in MiB per 10 minutes; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (m - mean_m) for t, m in points) / spread
    return round(slope * 600, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args(argv)
    duration_s = args.minutes * 60
    kill_at_s = duration_s / 2
    started = datetime.now(UTC)
    deployment = pipeline.new_deployment(f"soak_{uuid.uuid4().hex[:6]}")
    rest = scoring_job.flink()
    dynamodb = aws.dynamodb_client()
    samples: list[Sample] = []
    sent = {"tx": 0}
    try:
        job_id = scoring_job.submit(deployment, parallelism=PARALLELISM)
        rest.wait_for_state(job_id, {"RUNNING"})
        # More simulated days than the run can send: the producer stops at the deadline.
        days = int(duration_s * RATE / (CARDS * 2.5)) + 2
        items = Simulator(CARDS, seed=SEED, start_ms=START_MS, days=days).transactions()
        writer = KafkaWriter(
            settings.get("KAFKA_BOOTSTRAP"),
            {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
            rate=RATE,
            progress=False,
        )
        began = time.monotonic()
        stop = threading.Event()

        def produce() -> None:
            for message in messages(items, DAY_MS):
                if stop.is_set():
                    break
                writer.send(message)
                if message.kind == TX:
                    sent["tx"] += 1

        producing = threading.Thread(target=produce, daemon=True)
        producing.start()
        killed_at_s = None
        while (elapsed := time.monotonic() - began) < duration_s:
            if killed_at_s is None and elapsed >= kill_at_s:
                faults.kill_program(TASKMANAGER)
                killed_at_s = round(elapsed, 1)
                print(f"[soak] {elapsed / 60:.1f} min: TaskManager killed", flush=True)
            samples.append(
                Sample(
                    round(elapsed, 1),
                    rss_by_program(),
                    item_count(dynamodb, deployment.card_table),
                    item_count(dynamodb, log_table_name(deployment.card_table)),
                    directory_mib(Path(settings.get("DATA_DIR")) / "dynamodb"),
                    card_cache_mib(rest, job_id),
                    topic_bytes(list(deployment.topics())),
                    sent["tx"],
                )
            )
            print(
                f"[soak] {elapsed / 60:5.1f} min  sent {sent['tx']:>9,}  TaskManager "
                f"{samples[-1].rss_mib.get(TASKMANAGER, 0):,.0f} MiB (Python workers "
                f"{samples[-1].rss_mib.get(PYTHON_WORKERS, 0):,.0f}, their card caches "
                f"{samples[-1].card_cache_mib:,.0f})  card table {samples[-1].card_table_items:,} items, log "
                f"{samples[-1].log_table_items:,}, DynamoDB store {samples[-1].dynamodb_store_mib:,.0f} MiB",
                flush=True,
            )
            time.sleep(SAMPLE_EVERY_S - (time.monotonic() - began) % SAMPLE_EVERY_S)
        stop.set()
        producing.join(timeout=60)
        summary = writer.close()
        consumed = {"tx": summary.sent[TX]}
        pipeline.commit_until(
            deployment,
            lambda: (
                (pipeline.committed(deployment, "scored_transactions") + pipeline.committed(deployment, "dead_letters"))
                >= consumed["tx"]
            ),
            600,
            "every transaction sent in Iceberg",
        )
        table = deployment.table("scored_transactions")
        rows, distinct = trino_query(f"select count(*), count(distinct tx_id) from {table}")[0]
        dead = trino_query(f"select count(*) from {deployment.table('dead_letters')}")[0][0]
        [job] = scoring_job.running(deployment, rest)
        restarts = job_health.restarts(rest, job.id)
    finally:
        deployment.remove()

    taskmanager_back_s = (killed_at_s or 0) + 120  # its trends count from 2 minutes after the kill
    trends = {}
    for program in sorted({p for s in samples for p in s.rss_mib}):
        after = WARM_UP_S if not program.startswith(TASKMANAGER) else taskmanager_back_s
        points = [(s.at_s, s.rss_mib[program]) for s in samples if s.at_s >= after and program in s.rss_mib]
        trends[program] = trend_mib_per_10_min(points)
    # the end of the run, and not before the TaskManager came back (a short run's window holds the kill)
    end_window = [s for s in samples if s.at_s >= max(samples[-1].at_s - LAST_WINDOW_S, taskmanager_back_s)]
    last_window = {
        "taskmanager_rss_trend_mib_per_10_min": trend_mib_per_10_min(
            [(s.at_s, s.rss_mib[TASKMANAGER]) for s in end_window if TASKMANAGER in s.rss_mib]
        ),
        "python_workers_rss_trend_mib_per_10_min": trend_mib_per_10_min(
            [(s.at_s, s.rss_mib[PYTHON_WORKERS]) for s in end_window if PYTHON_WORKERS in s.rss_mib]
        ),
        "card_cache_trend_mib_per_10_min": trend_mib_per_10_min([(s.at_s, s.card_cache_mib) for s in end_window]),
        "dynamodb_store_trend_mib_per_10_min": trend_mib_per_10_min(
            [(s.at_s, s.dynamodb_store_mib) for s in end_window]
        ),
    }
    result = {
        "started": started.isoformat(),
        "minutes": args.minutes,
        "rate": RATE,
        "cards": CARDS,
        "parallelism": PARALLELISM,
        "taskmanager_killed_at_s": killed_at_s,
        "sent": consumed["tx"],
        "scored_rows": rows,
        "distinct_tx_ids": distinct,
        "dead_lettered": dead,
        "reconciled": rows == distinct and rows + dead == consumed["tx"],
        "job_restarts": restarts,
        "rss_trend_mib_per_10_min": trends,
        "last_10_min": last_window,
        "samples": [asdict(s) for s in samples],
    }
    lines = [f"{'service':<34} {'first MiB':>9} {'last MiB':>9} {'trend MiB/10 min':>17}"]
    for program, trend in trends.items():
        first = next((s.rss_mib[program] for s in samples if program in s.rss_mib), 0)
        last = samples[-1].rss_mib.get(program, 0)
        lines.append(f"{program:<34} {first:>9,.0f} {last:>9,.0f} {'-' if trend is None else trend:>17}")
    print("\n".join(lines))
    print(
        f"last 10 minutes, MiB per 10 minutes: TaskManager "
        f"{last_window['taskmanager_rss_trend_mib_per_10_min']} (its Python workers "
        f"{last_window['python_workers_rss_trend_mib_per_10_min']}), their card caches "
        f"{last_window['card_cache_trend_mib_per_10_min']}, DynamoDB store "
        f"{last_window['dynamodb_store_trend_mib_per_10_min']} "
        f"({samples[0].dynamodb_store_mib:,.0f} -> {samples[-1].dynamodb_store_mib:,.0f} MiB on disk)"
    )
    print(
        f"\nsent {consumed['tx']:,} transactions, {rows:,} scored rows ({distinct:,} distinct) + {dead} dead "
        f"letters: {'reconciled' if result['reconciled'] else 'NOT reconciled'}; job restarts {restarts}; "
        f"card table {samples[0].card_table_items:,} -> {samples[-1].card_table_items:,} items, log table "
        f"{max(s.log_table_items for s in samples):,} at most; topics "
        f"{sum(samples[-1].topic_bytes.values()) / 2**20:,.0f} MiB on disk"
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path}")
    return 0 if result["reconciled"] else 1


if __name__ == "__main__":
    sys.exit(main())
