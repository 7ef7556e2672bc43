"""The scoring job with many distinct cards: memory stays within its budget, what it costs in speed.

  python -m bench.many_cards [--cards 20000,1000000] [--transactions 1100000] [--rate 2500]

For each card count, one job instance is streamed --transactions at a steady --rate (each card about
transactions/cards times, in shuffled order, over 30 days of event time). Printed per run:

  tx/s                 transactions the job scored per second, from the first sent to the last scored
                       (below --rate when the job cannot keep up; then the run lasts longer)
  DynamoDB req/1k      requests per 1,000 transactions (every card seen first costs a read, and every
                       card a log touched an item write at the next compaction)
  cache                the card cache's peak bytes (both workers) and its hit rate (SCORING_CARD_CACHE_MB
                       per worker)
  peak RSS             the TaskManager with its Python workers, against FLINK_TASKMANAGER_MEMORY, the
                       budget the cluster gives it; and the Python workers alone
Results are printed and written to bench/results/many-cards-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from bench.benchmark import BENCH, START_MS, python_workers
from include import scoring_job, settings
from include.transactions import Transaction, encode
from producer.kafka_writer import KafkaWriter
from producer.timeline import TX, Message
from stack import supervisor

DAY_MS = 86_400_000


@dataclass
class Run:
    cards: int
    transactions: int
    offered_tx_per_s: float
    scored_tx_per_s: float = 0.0
    seconds: float = 0.0
    dynamodb_requests_per_1000: float = 0.0
    cache_peak_mib: float = 0.0
    cache_hit_rate: float = 0.0
    taskmanager_peak_rss_mib: float = 0.0
    python_workers_peak_rss_mib: float = 0.0
    taskmanager_budget_mib: float = 0.0


def stream(cards: int, transactions: int, seed: int = 7):
    """Transactions over `cards` cards, every card before any card's second, in shuffled order."""
    rng = random.Random(seed)
    order = [f"C{n:09d}" for n in range(100_000_000, 100_000_000 + cards)]
    step = 30 * DAY_MS // transactions
    i = 0
    while i < transactions:
        rng.shuffle(order)
        for card in order[: transactions - i]:
            tx = Transaction(
                f"mc-{i}",
                card,
                f"T{rng.randrange(20_000):06d}",
                round(rng.uniform(1, 300), 2),
                "EUR",
                START_MS + i * step,
                "grocery",
                "pos",
                48 + rng.random(),
                11 + rng.random(),
            )
            yield Message(TX, card, encode(tx), tx.event_ms, tx.tx_id)
            i += 1


class Sampler:
    """Peak RSS of the TaskManager's process tree and of its Python workers, every second."""

    def __init__(self):
        self.taskmanager = self.workers = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = supervisor.process_table()
            pid = supervisor.program_info("flink-taskmanager").pid
            self.taskmanager = max(self.taskmanager, supervisor.process_tree_rss_kib(pid, processes) / 1024)
            self.workers = max(
                self.workers, sum(processes[p].rss_kib for p in python_workers() if p in processes) / 1024
            )
            self._stop.wait(1.0)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run(cards: int, transactions: int, rate: float) -> Run:
    name = f"bench_cards_{cards}_{uuid.uuid4().hex[:6]}"
    deployment = scoring_job.Deployment.named(name)
    deployment.create_topics()
    result = Run(
        cards,
        transactions,
        rate,
        taskmanager_budget_mib=float(settings.get("FLINK_TASKMANAGER_MEMORY").removesuffix("m")),
    )
    rest = scoring_job.flink()
    try:
        job_id = scoring_job.submit(deployment)
        rest.wait_for_state(job_id, {"RUNNING"})
        rest.checkpoint(job_id)  # every task runs
        with Sampler() as sampler:
            cache_peak = 0.0
            started = time.monotonic()
            writer = KafkaWriter(
                settings.get("KAFKA_BOOTSTRAP"), {TX: deployment.transactions_topic}, rate=rate, progress=False
            )
            for n, message in enumerate(stream(cards, transactions)):
                writer.send(message)
                if n % 50_000 == 0:
                    cache_peak = max(cache_peak, rest.udf_metrics(job_id).get("card_cache_bytes", 0.0))
                    print(f"[bench] {cards:,} cards: {n:,} sent", file=sys.stderr)
            writer.close()
            while True:
                metrics = rest.udf_metrics(job_id)
                cache_peak = max(cache_peak, metrics.get("card_cache_bytes", 0.0))
                done = metrics.get("records_scored", 0.0) + metrics.get("records_rejected", 0.0)
                if done >= transactions:
                    break
                if time.monotonic() - started > 3 * 3600:
                    raise SystemExit(f"{cards:,} cards: {done:,.0f} of {transactions:,} scored after 3 hours")
                time.sleep(2)
            result.seconds = round(time.monotonic() - started, 1)
        result.scored_tx_per_s = round(transactions / result.seconds, 1)
        result.dynamodb_requests_per_1000 = round(1000 * metrics.get("dynamodb_requests", 0.0) / done, 2)
        hits, misses = metrics.get("card_cache_hits", 0.0), metrics.get("card_cache_misses", 0.0)
        result.cache_hit_rate = round(hits / (hits + misses), 3) if hits + misses else 0.0
        result.cache_peak_mib = round(cache_peak / 2**20, 1)
        result.taskmanager_peak_rss_mib = round(sampler.taskmanager, 1)
        result.python_workers_peak_rss_mib = round(sampler.workers, 1)
        print(f"[bench] {cards:,} cards: {asdict(result)}", file=sys.stderr)
        return result
    finally:
        deployment.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.many_cards", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cards", default="20000,1000000")
    parser.add_argument("--transactions", type=int, default=1_100_000)
    parser.add_argument("--rate", type=float, default=2500)
    args = parser.parse_args(argv)

    runs = [run(int(cards), args.transactions, args.rate) for cards in args.cards.split(",")]
    lines = [
        f"{'cards':>10} {'tx/s':>8} {'DDB req/1k':>11} {'cache MiB':>10} {'hit rate':>9} "
        f"{'TaskManager MiB (budget)':>25} {'Python workers MiB':>19}"
    ]
    lines += [
        f"{r.cards:>10,} {r.scored_tx_per_s:>8,.0f} {r.dynamodb_requests_per_1000:>11.1f} "
        f"{r.cache_peak_mib:>10.0f} {r.cache_hit_rate:>9.3f} "
        f"{f'{r.taskmanager_peak_rss_mib:,.0f} ({r.taskmanager_budget_mib:,.0f})':>25} "
        f"{r.python_workers_peak_rss_mib:>19,.0f}"
        for r in runs
    ]
    text = "\n".join(lines)
    print(text)
    out = BENCH / "results" / f"many-cards-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"arguments": vars(args), "runs": [asdict(r) for r in runs], "report": text}, indent=2))
    print(f"[bench] results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
