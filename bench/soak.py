"""Soak: the job at a steady 1,000 tx/s for 30 minutes, its TaskManager killed at minute 15.

Samples every 30 s the resident memory of every service (process and children), the items of the
DynamoDB card table and of its log table (compaction folds the log into the cards) and the bytes of the instance's Kafka topics on
disk; then reconciles (every transaction sent is in Iceberg once, scored or dead-lettered) and prints, per
service, the memory trend after the warm-up as MiB per 10 minutes (least squares over the samples, the
TaskManager's from its restart on), and writes bench/results/soak-<time>.json. Run by hand with the
stack up and nothing else running:

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

from bench import faults, pipeline
from include import aws, scoring_job, settings
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
PARALLELISM = 2


@dataclass
class Sample:
    at_s: float
    rss_mib: dict[str, float]
    card_table_items: int
    log_table_items: int
    topic_bytes: dict[str, int]
    transactions_sent: int


def rss_by_program() -> dict[str, float]:
    processes = supervisor.process_table()
    return {
        name: round(supervisor.process_tree_rss_kib(info.pid, processes) / 1024, 1)
        for name, info in supervisor.all_programs().items()
        if info.pid
    }


def topic_bytes(topics: list[str]) -> dict[str, int]:
    """Bytes on the broker's disk per topic (all partitions' segments and indexes)."""
    logs = Path(settings.get("DATA_DIR")) / "kafka"
    return {
        topic: sum(f.stat().st_size for d in logs.glob(f"{topic}-*") for f in d.iterdir() if f.is_file())
        for topic in topics
    }


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
                faults.kill_program("flink-taskmanager")
                killed_at_s = round(elapsed, 1)
                print(f"[soak] {elapsed / 60:.1f} min: TaskManager killed", flush=True)
            samples.append(
                Sample(
                    round(elapsed, 1),
                    rss_by_program(),
                    item_count(dynamodb, deployment.card_table),
                    item_count(dynamodb, log_table_name(deployment.card_table)),
                    topic_bytes(list(deployment.topics())),
                    sent["tx"],
                )
            )
            print(
                f"[soak] {elapsed / 60:5.1f} min  sent {sent['tx']:>9,}  TaskManager "
                f"{samples[-1].rss_mib.get('flink-taskmanager', 0):,.0f} MiB  card table "
                f"{samples[-1].card_table_items:,} items, log {samples[-1].log_table_items:,}",
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
        restarts = int(rest.job_metric(job.id, "numRestarts") or 0)
    finally:
        deployment.remove()

    trends = {}
    for program in sorted({p for s in samples for p in s.rss_mib}):
        after = WARM_UP_S if program != "flink-taskmanager" else (killed_at_s or 0) + 120
        points = [(s.at_s, s.rss_mib[program]) for s in samples if s.at_s >= after and program in s.rss_mib]
        trends[program] = trend_mib_per_10_min(points)
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
        "samples": [asdict(s) for s in samples],
    }
    lines = [f"{'service':<24} {'first MiB':>9} {'last MiB':>9} {'trend MiB/10 min':>17}"]
    for program, trend in trends.items():
        first = next((s.rss_mib[program] for s in samples if program in s.rss_mib), 0)
        last = samples[-1].rss_mib.get(program, 0)
        lines.append(f"{program:<24} {first:>9,.0f} {last:>9,.0f} {'-' if trend is None else trend:>17}")
    print("\n".join(lines))
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
