"""Benchmark of the scoring step: three designs, one run, the same data, every service on this machine.

  python -m bench.benchmark [--designs naive,batched,no-udf] [--phases throughput,latency]
                           [--transactions 300000] [--max-seconds 120] [--latency-rate 1000]

  naive    the seed's design: a per-row Python UDF, synchronous GetItem + UpdateItem per transaction
  batched  this project's job: a vectorized UDF, card histories cached, BatchGetItem / BatchWriteItem
  no-udf   the same SQL with the UDF replaced by SQL expressions: the ceiling of the rest of the job

Each design runs as its own job instance (own topics, tables, DynamoDB table) through the same SQL,
sources and sinks (Iceberg, fraud_alerts, dead letters). Measured for each:
  sustained tx/s       records through the job's Kafka source per second, once warmed up, with a
                       backlog of --transactions waiting (slope between 10 % and the end)
  DynamoDB requests    per 1,000 transactions (the UDFs count every HTTP request they make)
  alert latency        p50/p95/p99 from handing a transaction to the producer to reading its alert
                       from fraud_alerts, at --latency-rate transactions per second (at-least-once),
                       after the first 5 seconds (warm-up); split at the alert's detected_at into
                       sent -> scored and scored -> readable; every alert's three times are kept in
                       bench/results/latency-<design>-<time>.json (for a timeline: checkpoints show)
  CPU                  cores each service used over the throughput slope (the TaskManager's Python
                       workers, which run the UDF, apart from its JVM): which part limits throughput
  RSS                  peak resident memory of every service during the design's runs
Results are printed and written to bench/results/benchmark-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from include import kafka_config, scoring_job, settings
from include.scoring_job import Deployment
from producer.kafka_writer import KafkaWriter
from producer.simulator import Simulator
from producer.timeline import FEEDBACK, TX, messages

BENCH = Path(__file__).resolve().parent
DAY_MS = 86_400_000
WARM_UP_S = 5
START_MS = 1_767_225_600_000  # 2026-01-01
SCORING_SQL = settings.REPO_ROOT / "flink" / "sql" / "scoring"
# The files that make the scoring step of each design; the rest of the job is the same for all.
DESIGNS = {
    "naive": [BENCH / "sql" / "function_naive.sql", SCORING_SQL / "5_verdicts_view.sql"],
    "batched": [SCORING_SQL / "4_function.sql", SCORING_SQL / "5_verdicts_view.sql"],
    "no-udf": [BENCH / "sql" / "scoring_without_udf.sql"],
}


@dataclass
class DesignResult:
    design: str
    transactions_measured: int = 0
    sustained_tx_per_s: float = 0.0
    dynamodb_requests_per_1000: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    # the same alerts' latency split at the UDF's detected_at: sent -> scored, scored -> readable
    latency_to_scored_ms: dict[str, float] = field(default_factory=dict)
    latency_after_scored_ms: dict[str, float] = field(default_factory=dict)
    # at the latency run's offered rate, where batches are small (one log write each)
    dynamodb_requests_per_1000_at_rate: float = 0.0
    alerts_measured: int = 0
    # cores each service used while the throughput slope was measured (2 = the whole machine)
    cpu_cores: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)


class RssSampler:
    """Peak resident memory per supervisor program (process and children), sampled every second."""

    def __init__(self):
        from stack import supervisor

        self.supervisor = supervisor
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = self.supervisor.process_table()
            for name, info in self.supervisor.all_programs().items():
                if info.pid:
                    rss = self.supervisor.process_tree_rss_kib(info.pid, processes) / 1024
                    self.peaks[name] = max(self.peaks.get(name, 0.0), round(rss, 1))
            self._stop.wait(1.0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


PYTHON_WORKERS = "flink-python-workers"


def cpu_seconds_by_service() -> dict[str, float]:
    """CPU time (user + system) spent so far by each supervisor program's processes and their children.
    The TaskManager's Python workers count apart, as PYTHON_WORKERS. A process that ended is not
    counted: take the difference of two calls over a window in which the services keep running."""
    from stack import supervisor

    processes = supervisor.process_table()
    workers = set(python_workers())
    seconds: dict[str, float] = {}
    for name, info in supervisor.all_programs().items():
        if not info.pid:
            continue
        for pid in supervisor.process_tree(info.pid, processes):
            service = PYTHON_WORKERS if pid in workers else name
            seconds[service] = seconds.get(service, 0.0) + (processes[pid].cpu_s if pid in processes else 0.0)
    return seconds


def job_files(design: str) -> list[Path]:
    return [
        settings.REPO_ROOT / "flink" / "sql" / "catalog.sql",
        SCORING_SQL / "1_job_settings.sql",
        SCORING_SQL / "2_sources.sql",
        SCORING_SQL / "3_sinks.sql",
        *DESIGNS[design],
        SCORING_SQL / "6_inserts.sql",
    ]


def new_deployment(design: str, phase: str) -> Deployment:
    name = f"bench_{design.replace('-', '_')}_{phase}_{uuid.uuid4().hex[:6]}"
    deployment = Deployment.named(name)
    deployment.create_topics()
    return deployment


def start(deployment: Deployment, design: str, parallelism: int | None = None) -> str:
    job_id = scoring_job.submit(deployment, sql_files=job_files(design), parallelism=parallelism)
    scoring_job.flink().wait_for_state(job_id, {"RUNNING"})
    return job_id


def preload(deployment: Deployment, items, rate: float = 0.0) -> int:
    """Sends the transactions and their confirmations; returns how many records that is."""
    writer = KafkaWriter(
        settings.get("KAFKA_BOOTSTRAP"),
        {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
        rate=rate,
        progress=False,
    )
    for message in messages(items, 7 * DAY_MS):
        writer.send(message)
    sent = writer.close().sent
    return sent[TX] + sent[FEEDBACK]


def source_records(job_id: str) -> int:
    """Records the job's Kafka source has emitted (all subtasks; both topics: confirmations are under 1 %
    of the records)."""
    rest = scoring_job.flink()
    for vertex in rest.job(job_id)["vertices"]:
        if "kafka_source" not in vertex["name"]:
            continue
        base = f"/jobs/{job_id}/vertices/{vertex['id']}"
        names = sorted(
            {
                m["id"].split(".", 1)[1]
                for m in rest._get(f"{base}/metrics")
                if "kafka_source" in m["id"] and m["id"].endswith(".numRecordsOut")
            }
        )
        if names:
            summed = rest._get(f"{base}/subtasks/metrics?get={','.join(names)}&agg=sum")
            return int(sum(m["sum"] for m in summed))
    return 0


def requests_per_1000(job_id: str) -> float:
    """DynamoDB requests per 1,000 transactions the UDF has finished (the source's count runs ahead of
    it by what is in flight). The REST API may not list the Python metrics yet: asked for up to 15 s."""
    deadline = time.monotonic() + 15
    while True:
        metrics = scoring_job.flink().udf_metrics(job_id)
        scored = metrics.get("records_scored", 0.0) + metrics.get("records_rejected", 0.0)
        if scored or time.monotonic() > deadline:
            return round(1000 * metrics.get("dynamodb_requests", 0.0) / scored, 2) if scored else 0.0
        time.sleep(1)


def python_workers() -> list[int]:
    """PIDs of the PyFlink workers the TaskManager started (the processes running the UDFs)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"beam_sdk_worker_main" in cmdline or b"pyflink.fn_execution.beam.beam_boot" in cmdline:
                pids.append(int(entry.name))
    return pids


def profile_python(design: str, seconds: int) -> str:
    """Samples the UDF's Python worker with py-spy for `seconds`; returns where its time goes (the
    share of samples in which each of the busiest functions is on the stack). The collapsed stacks
    are kept next to the results for a flame graph."""
    import collections
    import subprocess

    pids = python_workers()
    if not pids:
        return "no Python worker found"
    out = BENCH / "results" / f"profile-{design}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.txt"
    out.parent.mkdir(exist_ok=True)
    subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(min(pids)),
            "--subprocesses",
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        capture_output=True,
        check=False,
    )
    if not out.exists():
        return "py-spy recorded nothing"
    on_stack: collections.Counter = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in set(stack.split(";")):
            on_stack[frame.split(" (")[0]] += int(count)
    busiest = "\n".join(f"  {100 * n / total:5.1f} %  {frame}" for frame, n in on_stack.most_common(25))
    return f"{total} samples ({out.name}); share of samples with the function on the stack:\n{busiest}"


def measure_throughput(
    design: str,
    items,
    max_seconds: float,
    result: DesignResult,
    profile_seconds: int = 0,
    parallelism: int | None = None,
) -> None:
    deployment = new_deployment(design, "throughput")
    try:
        total = preload(deployment, items)
        job_id = start(deployment, design, parallelism)
        if profile_seconds:
            profiler = threading.Thread(
                target=lambda: print(
                    f"[bench] {design}: profile in {profile_python(design, profile_seconds)}", file=sys.stderr
                )
            )
            threading.Timer(10, profiler.start).start()
        samples, began = [], time.monotonic()
        while time.monotonic() - began < max_seconds:
            samples.append((time.monotonic(), source_records(job_id), cpu_seconds_by_service()))
            if samples[-1][1] >= total:
                break
            time.sleep(1)
        end, done, cpu_end = samples[-1]
        # the slope starts at the first sample past 10 % of the backlog: job start and warm-up left out
        warm, warm_done, cpu_warm = next((s for s in samples if s[1] >= 0.1 * max(done, 1)), samples[0])
        elapsed = end - warm
        result.transactions_measured = done
        result.sustained_tx_per_s = round((done - warm_done) / elapsed, 1) if elapsed > 0 else 0.0
        if elapsed > 0:
            result.cpu_cores = {
                service: round((cpu_end[service] - cpu_warm.get(service, 0.0)) / elapsed, 2) for service in cpu_end
            }
        result.dynamodb_requests_per_1000 = requests_per_1000(job_id)
        print(
            f"[bench] {design}: {done:,} of {total:,} transactions in {samples[-1][0] - began:.0f} s, "
            f"sustained {result.sustained_tx_per_s:,.0f} tx/s, "
            f"{result.dynamodb_requests_per_1000} DynamoDB requests per 1,000",
            file=sys.stderr,
        )
    finally:
        deployment.remove()


def measure_latency(
    design: str, items, rate: float, seconds: float, result: DesignResult, parallelism: int | None = None
) -> None:
    deployment = new_deployment(design, "latency")
    sent_at: dict[str, float] = {}
    read_at: dict[str, float] = {}
    scored_at: dict[str, float] = {}
    stop = threading.Event()

    def read_alerts() -> None:
        consumer = Consumer(
            kafka_config.client_config(
                {
                    "group.id": deployment.job_name,
                    "isolation.level": "read_uncommitted",
                }
            )
        )
        partitions = (
            consumer.list_topics(deployment.alerts_topic, timeout=10).topics[deployment.alerts_topic].partitions
        )
        consumer.assign([TopicPartition(deployment.alerts_topic, p, 0) for p in partitions])
        while not stop.is_set():
            # poll(), not consume(n): consume waits for n messages or its whole timeout, which would
            # count that wait as latency.
            message = consumer.poll(0.05)
            if message is not None and not message.error():
                tx_id = message.key().decode()
                read_at.setdefault(tx_id, time.time())
                detected = datetime.fromisoformat(json.loads(message.value())["detected_at"])
                scored_at.setdefault(tx_id, detected.replace(tzinfo=detected.tzinfo or UTC).timestamp())
        consumer.close()

    # Encoded up front (what the offered rate can need, and a little more): the loop below only hands
    # messages to the producer, so the harness takes as little CPU from the job as it can.
    due = int(rate * seconds * 1.1)
    to_send = [m for m, _ in zip(messages(items, 7 * DAY_MS), range(due))]
    try:
        job_id = start(deployment, design, parallelism)
        scoring_job.flink().checkpoint(job_id)  # every task runs
        reader = threading.Thread(target=read_alerts, daemon=True)
        reader.start()
        writer = KafkaWriter(
            settings.get("KAFKA_BOOTSTRAP"),
            {TX: deployment.transactions_topic, FEEDBACK: deployment.feedback_topic},
            rate=rate,
            progress=False,
        )
        deadline = time.monotonic() + seconds
        for message in to_send:
            if time.monotonic() > deadline:
                break
            if message.kind == TX:
                sent_at[message.tx_id] = time.time()
            writer.send(message)
        writer.close()
        time.sleep(10)
        stop.set()
        reader.join()
        result.dynamodb_requests_per_1000_at_rate = requests_per_1000(job_id)
        # The first seconds are left out: the producer and the job's caches warm up.
        warm = min(sent_at.values()) + WARM_UP_S if sent_at else 0
        measured = [k for k in read_at if sent_at.get(k, 0) >= warm]
        samples = BENCH / "results" / f"latency-{design}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        samples.write_text(
            json.dumps([[sent_at[k], scored_at[k], read_at[k]] for k in sorted(measured, key=sent_at.get)])
        )
        result.alerts_measured = len(measured)
        result.latency_ms = percentiles([read_at[k] - sent_at[k] for k in measured])
        result.latency_to_scored_ms = percentiles([scored_at[k] - sent_at[k] for k in measured])
        result.latency_after_scored_ms = percentiles([read_at[k] - scored_at[k] for k in measured])
        print(
            f"[bench] {design}: {len(measured)} alerts at {rate:.0f} tx/s "
            f"({result.dynamodb_requests_per_1000_at_rate} DynamoDB requests per 1,000), latency {result.latency_ms}; "
            f"sent -> scored {result.latency_to_scored_ms}, scored -> read {result.latency_after_scored_ms}",
            file=sys.stderr,
        )
    finally:
        stop.set()
        deployment.remove()


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    if len(seconds) < 2:
        return {}
    ms = sorted(1000 * s for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1), "max": round(ms[-1], 1)}


def report(results: list[DesignResult]) -> str:
    by = {r.design: r for r in results}
    lines = [f"{'design':<9} {'tx/s':>9} {'DDB req/1k tx':>14} {'alerts':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for r in results:
        lat = r.latency_ms
        lines.append(
            f"{r.design:<9} {r.sustained_tx_per_s:>9,.0f} {r.dynamodb_requests_per_1000:>14.1f} "
            f"{r.alerts_measured:>7} {lat.get('p50', float('nan')):>8.1f} {lat.get('p95', float('nan')):>8.1f} "
            f"{lat.get('p99', float('nan')):>8.1f}"
        )
    for r in results:
        if r.latency_to_scored_ms:
            before, after = r.latency_to_scored_ms, r.latency_after_scored_ms
            lines.append(
                f"{r.design}: sent -> scored p50/p99 {before['p50']:.0f}/{before['p99']:.0f} ms, "
                f"scored -> readable p50/p99 {after['p50']:.0f}/{after['p99']:.0f} ms, "
                f"{r.dynamodb_requests_per_1000_at_rate} DynamoDB requests per 1,000 at that rate"
            )
    if "naive" in by and "batched" in by and by["naive"].sustained_tx_per_s:
        lines.append(
            f"batched / naive throughput: {by['batched'].sustained_tx_per_s / by['naive'].sustained_tx_per_s:.1f}x"
        )
    if "no-udf" in by and "batched" in by and by["no-udf"].sustained_tx_per_s:
        lines.append(
            f"batched / no-udf (ceiling): {by['batched'].sustained_tx_per_s / by['no-udf'].sustained_tx_per_s:.2f}"
        )
    for r in results:
        if r.cpu_cores:
            busiest = sorted(r.cpu_cores.items(), key=lambda item: -item[1])
            lines.append(
                f"{r.design}: CPU cores during the throughput slope, {sum(r.cpu_cores.values()):.2f} in all: "
                + ", ".join(f"{service} {cores:.2f}" for service, cores in busiest if cores >= 0.01)
            )
    services = sorted({s for r in results for s in r.peak_rss_mib})
    lines.append("peak RSS MiB  " + "  ".join(f"{s}" for s in services))
    for r in results:
        lines.append(f"  {r.design:<10} " + "  ".join(f"{r.peak_rss_mib.get(s, 0):.0f}" for s in services))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--designs", default="naive,batched,no-udf")
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=300_000, help="backlog for the throughput run")
    parser.add_argument("--max-seconds", type=float, default=120, help="longest throughput measurement")
    parser.add_argument("--latency-rate", type=float, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=150, help="at most 160 (the simulated data)")
    parser.add_argument("--phases", default="throughput,latency", help="which measurements to run")
    parser.add_argument("--parallelism", type=int, help="job parallelism (default: the SQL's)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="sample the Python worker with py-spy during the throughput run (flame graph)",
    )
    args = parser.parse_args(argv)

    items = []
    if "throughput" in args.phases:
        print(f"[bench] simulating {args.transactions:,} transactions for {args.cards:,} cards", file=sys.stderr)
        simulation = Simulator(args.cards, seed=2026, start_ms=START_MS, days=30).transactions()
        items = [item for _, item in zip(range(args.transactions), simulation)]
    latency_items = list(Simulator(5_000, seed=2027, start_ms=START_MS, days=12).transactions())

    results = []
    for design in args.designs.split(","):
        result = DesignResult(design)
        with RssSampler() as rss:
            if "throughput" in args.phases:
                measure_throughput(design, items, args.max_seconds, result, args.profile, args.parallelism)
            if "latency" in args.phases and args.latency_seconds:
                measure_latency(
                    design, latency_items, args.latency_rate, args.latency_seconds, result, args.parallelism
                )
        result.peak_rss_mib = rss.peaks
        results.append(result)

    text = report(results)
    print(text)
    out = BENCH / "results" / f"benchmark-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"arguments": vars(args), "results": [asdict(r) for r in results], "report": text}, indent=2)
    )
    print(f"[bench] results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
