"""Start-up of the scoring job with a long confirmed-fraud history on fraud_feedback.

  python -m bench.feedback_startup [--confirmations 2000000] [--days 365]

Every scoring worker reads the feedback topic as a side input before it scores (include/scoring/
feedback_feed.py), keeping only what the features can still count (include/scoring/feedback.py). This
measures, on one job instance with --confirmations confirmed frauds spread over --days on its topic
(a year of chargebacks loaded at once), three starts of the job:

  empty      the topic empty: the job's own start-up, for comparison
  cold       the whole topic read, no snapshot stored yet
  snapshot   a restart after the cold run stored its snapshot: only what came after it is read

and prints for each the seconds from submitting the job to its first completed checkpoint (the job
checkpoints only once every task runs, so after each worker has caught up), the confirmations each
worker holds, and the peak resident memory of the UDF's Python workers and of the TaskManager.
Results are printed and written to bench/results/feedback-startup-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from confluent_kafka import Producer

from bench.benchmark import BENCH, RssSampler, python_workers
from include import kafka_config, scoring_job
from include.scoring.feedback import Feedback, encode_feedback
from stack import supervisor

DAY_MS = 86_400_000


@dataclass
class Start:
    case: str
    confirmations_on_topic: int
    seconds_to_first_checkpoint: float
    confirmations_held_by_all_workers: float
    python_workers_peak_rss_mib: float
    taskmanager_peak_rss_mib: float


def produce_confirmations(topic: str, count: int, days: int) -> None:
    """`count` confirmations spread evenly over the `days` before now, keyed by card, timestamped when
    confirmed (as the producer does)."""
    producer = Producer(
        kafka_config.client_config(
            {
                "enable.idempotence": True,
                "linger.ms": 50,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 1_000_000,
            }
        )
    )
    end = int(time.time() * 1000) - DAY_MS
    step = days * DAY_MS // count
    for i in range(count):
        confirmed = end - (count - i) * step
        card = f"C{i % 400_000:09d}"
        value = encode_feedback(
            Feedback(
                f"bench-fb-{i}", card, f"T{i % 20_000:06d}", confirmed - 7 * DAY_MS, confirmed, "card_testing", 12.5
            )
        )
        while True:
            try:
                producer.produce(topic, key=card, value=value, timestamp=confirmed)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 100_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


def _confirmations_held(rest, job_id: str, timeout_s: float = 60) -> float:
    """The workers' feedback_records gauge, summed. Python gauges reach Flink when a bundle ends, and its
    REST API refreshes metrics every few seconds: right after the first checkpoint they may not be there."""
    deadline = time.monotonic() + timeout_s
    while True:
        metrics = rest.udf_metrics(job_id)
        if metrics.get("batches", 0) > 0 or time.monotonic() > deadline:
            return metrics.get("feedback_records", float("nan"))
        time.sleep(1)


def timed_start(deployment: scoring_job.Deployment, case: str, on_topic: int) -> Start:
    """Submits the instance's job (from its newest checkpoint, if any) and waits for its first completed
    checkpoint; then cancels it."""
    rest = scoring_job.flink()
    with RssSampler() as rss:
        worker_peak = 0.0
        started = time.monotonic()
        job_id = scoring_job.restart(deployment)[0] if case == "snapshot" else scoring_job.submit(deployment)
        while not (rest.checkpoints(job_id).get("counts") or {}).get("completed"):
            worker_peak = max(worker_peak, _workers_rss_mib())
            if time.monotonic() - started > 1800:
                raise SystemExit(f"{case}: no checkpoint within 30 minutes")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        held = _confirmations_held(rest, job_id) if on_topic else 0.0
        worker_peak = max(worker_peak, _workers_rss_mib())
    rest.cancel(job_id)
    rest.wait_for_state(job_id, {"CANCELED"})
    result = Start(
        case, on_topic, round(elapsed, 1), held, round(worker_peak, 1), rss.peaks.get("flink-taskmanager", 0.0)
    )
    print(
        f"[bench] {case}: first checkpoint {result.seconds_to_first_checkpoint} s after submitting, "
        f"{held:,.0f} confirmations held by the workers in all, Python workers {result.python_workers_peak_rss_mib:,.0f} MiB",
        file=sys.stderr,
    )
    return result


def _workers_rss_mib() -> float:
    processes = supervisor.process_table()
    return sum(processes[pid].rss_kib for pid in python_workers() if pid in processes) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feedback_startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--confirmations", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)

    name = f"bench_feedback_{uuid.uuid4().hex[:6]}"
    deployment = scoring_job.Deployment.named(name)
    deployment.create_topics()
    try:
        starts = [timed_start(deployment, "empty", 0)]
        print(f"[bench] producing {args.confirmations:,} confirmations over {args.days} days", file=sys.stderr)
        produce_confirmations(deployment.feedback_topic, args.confirmations, args.days)
        starts.append(timed_start(deployment, "cold", args.confirmations))
        starts.append(timed_start(deployment, "snapshot", args.confirmations))
    finally:
        deployment.remove()

    lines = [
        f"{'start':<10} {'on topic':>10} {'s to 1st checkpoint':>20} {'held (all)':>12} "
        f"{'workers MiB':>12} {'TaskManager MiB':>16}"
    ]
    lines += [
        f"{s.case:<10} {s.confirmations_on_topic:>10,} {s.seconds_to_first_checkpoint:>20.1f} "
        f"{s.confirmations_held_by_all_workers:>12,.0f} {s.python_workers_peak_rss_mib:>12,.0f} {s.taskmanager_peak_rss_mib:>16,.0f}"
        for s in starts
    ]
    text = "\n".join(lines)
    print(text)
    out = BENCH / "results" / f"feedback-startup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"arguments": vars(args), "starts": [asdict(s) for s in starts], "report": text}, indent=2)
    )
    print(f"[bench] results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
