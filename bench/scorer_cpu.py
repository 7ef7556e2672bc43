"""CPU time per transaction of the scoring code alone: the UDF's work without Flink around it.

  .venvs/flink/bin/python -m bench.scorer_cpu [--transactions 100000] [--batch 2000] [--runs 3] [--profile]
      [--model s3://models/fraud/<run id>]

On the cluster the Python workers use about half of the machine's CPU (bench/benchmark.py prints the
cores of each part), so this figure bounds the job's throughput. It runs what the UDF runs for each
Arrow batch (parse and validate, card histories from and the history log to DynamoDB, features, rules,
the result arrays) on the benchmark's simulated transactions, in this process, against the stack's
DynamoDB, and prints user + system CPU seconds per transaction of each run (the history-log thread
included). Much steadier than tx/s on the cluster, but this machine's speed itself drifts: the same
code measured 106 and 81 us per transaction a minute apart. Compare code changes by alternating runs.
--profile prints where the time goes (cProfile, which roughly doubles it). --model scores with a
published model version (its `source` in MLflow) at its capacity threshold, as a deploy pins it, the
model's reasons for each alert included; each run then alternates rules only and the model.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import statistics
import sys
import time
import uuid
import zlib

from bench.benchmark import DAY_MS, START_MS
from flink.udfs import to_frame
from include import aws
from include.scoring import config as scoring_config
from include.scoring import model as model_store
from include.scoring import runtime as worker_runtime
from include.scoring.card_store import drop_tables
from include.scoring.feedback import FeedbackIndex
from include.scoring.scorer import ALERT, BatchScorer, SourceRecord
from producer.simulator import Simulator
from producer.timeline import TX, messages

PARTITIONS = 6


def source_records(count: int, cards: int) -> list[SourceRecord]:
    """The first `count` simulated transactions as the job's Kafka source would hand them over: keyed
    by card onto PARTITIONS partitions, offsets counted per partition."""
    simulated = (
        m
        for m in messages(Simulator(cards, seed=2026, start_ms=START_MS, days=30).transactions(), 7 * DAY_MS)
        if m.kind == TX
    )
    offsets: dict[int, int] = {}
    records = []
    for message, _ in zip(simulated, range(count)):
        partition = zlib.crc32(message.key.encode()) % PARTITIONS
        offsets[partition] = offsets.get(partition, -1) + 1
        records.append(
            SourceRecord(message.value, partition, offsets[partition], message.timestamp_ms, key=message.key.encode())
        )
    return records


def score_all(records: list[SourceRecord], batch: int, model: Model | None = None) -> tuple[float, int]:
    """CPU seconds to score `records` in batches of `batch` with a fresh scorer and card table, and the
    alerts given; with `model` at its capacity threshold."""
    config = scoring_config.load()
    if model is not None:
        config = dataclasses.replace(config, alert_threshold=model.capacity_threshold)
    table = f"bench_scorer_cpu_{uuid.uuid4().hex[:6]}"
    store = worker_runtime.card_store({"card_table": table, "dynamodb_max_attempts": 10})  # as the UDF builds it
    scorer = BatchScorer(config, store, FeedbackIndex(), model=model and model.model)
    alerts = 0
    try:
        began = time.process_time()
        for start in range(0, len(records), batch):
            with scorer.batch(records[start : start + batch]) as results:
                to_frame(results, scorer.model_version, config.version)
                alerts += sum(result.decision == ALERT for result in results)
        scorer.drain()
        return time.process_time() - began, alerts
    finally:
        scorer.close()
        drop_tables(store.client, table)


@dataclasses.dataclass(frozen=True)
class Model:
    model: model_store.Model
    capacity_threshold: float


def load_model(uri: str) -> Model:
    """A published version (digest checked against its metadata.json) and the capacity threshold its
    training recorded."""
    client = aws.s3_client()
    threshold = float(model_store.metadata(uri, client)["capacity_alert_threshold"])
    return Model(model_store.load(uri, client), threshold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scorer_cpu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000, help="records per call, as Arrow batches")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="one run under cProfile instead")
    parser.add_argument("--model", help="s3:// prefix of a published model version: compared with the rules")
    args = parser.parse_args(argv)

    records = source_records(args.transactions, args.cards)
    model = load_model(args.model) if args.model else None
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(score_all, records, args.batch, model)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0
    variants = {"rules": None, model.model.version: model} if model else {"rules": None}
    per_tx_us: dict[str, list[float]] = {name: [] for name in variants}
    for run in range(1, args.runs + 1):
        for name, variant in variants.items():
            seconds, alerts = score_all(records, args.batch, variant)
            per_tx_us[name].append(1e6 * seconds / len(records))
            print(
                f"[scorer_cpu] run {run}, {name}: {len(records):,} transactions in batches of {args.batch:,}: "
                f"{seconds:.2f} CPU-s, {per_tx_us[name][-1]:.1f} us per transaction, {alerts:,} alerts",
                file=sys.stderr,
            )
    for name, figures in per_tx_us.items():
        print(
            f"scoring CPU per transaction, {name}: min {min(figures):.1f} us, median {statistics.median(figures):.1f} us "
            f"({1e6 / min(figures):,.0f} transactions per CPU-second at best)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
