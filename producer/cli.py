"""Produce card transactions to Kafka, with fraud confirmations delayed like real chargebacks.

  python -m producer simulate --cards 5000 --days 14 --seed 42 [--rate 1000] [--bad-records 20]
  python -m producer replay FILE --format handbook|project [--rate 0] [--shift-to-now]

Common options choose the rate (transactions per second, 0 = as fast as possible), when to stop
(--count, --duration), where to send (--bootstrap, --topic, --feedback-topic; defaults from
include/platform.env), the feedback delay (--feedback-delay-days, default 7) and where to keep
the ground truth (--labels-out, Parquet). `simulate --out FILE` writes the project's file format
instead of sending. Nothing is sent before it happens: messages timestamped after now are counted, not sent.
A run that failed part-way prints how many messages it delivered; the same command with
--resume-after N sends the rest.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import KafkaException

from include import settings
from producer import files
from producer.kafka_writer import KafkaWriter, Summary
from producer.labelled import Labelled
from producer.simulator import Simulator
from producer.timeline import FEEDBACK, TX, messages, shifted

log = logging.getLogger("producer")

DAY_MS = 86_400_000


def _stop_after(items: Iterable[Labelled], count: int | None, duration_s: float | None) -> Iterator[Labelled]:
    deadline = time.monotonic() + duration_s if duration_s else None
    for item in itertools.islice(items, count):
        if deadline and time.monotonic() > deadline:
            return
        yield item


class LabelSink:
    """Collects the ground truth of what was sent and writes it as Parquet at the end."""

    def __init__(self, path: Path | None):
        self.path = path
        self.rows: list[tuple] = []

    def watch(self, items: Iterable[Labelled]) -> Iterator[Labelled]:
        for item in items:
            if self.path:
                tx = item.tx
                self.rows.append(
                    (tx.tx_id, tx.card_id, tx.terminal_id, tx.event_ms, tx.amount, item.is_fraud, item.fraud_pattern)
                )
            yield item

    def write(self) -> None:
        if not self.path:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = ["tx_id", "card_id", "terminal_id", "event_ms", "amount", "is_fraud", "fraud_pattern"]
        pq.write_table(pa.table(list(zip(*self.rows)) if self.rows else [[]] * len(names), names=names), self.path)


def open_writer(args: argparse.Namespace) -> KafkaWriter:
    return KafkaWriter(
        args.bootstrap,
        {TX: args.topic, FEEDBACK: args.feedback_topic},
        rate=args.rate,
        progress=not args.quiet,
        first_message=args.resume_after,
    )


def send(items: Iterable[Labelled], args: argparse.Namespace, writer: KafkaWriter) -> Summary:
    """Sends the stream the arguments describe, after its first `--resume-after` messages. Raises
    KafkaException if some are still undelivered at the end; writer.summary.delivered says how far it got."""
    stream = messages(
        items,
        int(args.feedback_delay_days * DAY_MS),
        bad_every=args.bad_every,
        bad_limit=args.bad_records,
        start_ms=_ms(args.send_from),
        end_ms=_ms(args.send_until),
    )
    try:
        for message in itertools.islice(stream, args.resume_after, None):
            writer.send(message)
    finally:
        summary = writer.close()
    return summary


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _source(args: argparse.Namespace) -> Iterator[Labelled]:
    def read() -> Iterable[Labelled]:
        if args.command == "simulate":
            start = args.start or datetime.now(UTC) - timedelta(days=args.days)
            return Simulator(args.cards, args.seed, _ms(start), args.days).transactions()
        return files.read(args.file, args.format)

    items = read()
    if args.shift_to_now:
        # A first pass finds the last event time; the second streams, shifted so that one is now.
        last = max((item.tx.event_ms for item in read()), default=None)
        if last is not None:
            items = shifted(items, int(time.time() * 1000) - last)
    return _stop_after(items, args.count, args.duration)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    s = settings.all_settings()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rate", type=float, default=0.0, help="transactions per second; 0 = as fast as possible")
    common.add_argument("--count", type=int, help="stop after this many transactions")
    common.add_argument("--duration", type=float, help="stop after this many seconds")
    common.add_argument("--bootstrap", default=s["KAFKA_BOOTSTRAP"])
    common.add_argument("--topic", default=s["TRANSACTIONS_TOPIC"])
    common.add_argument("--feedback-topic", default=s["FEEDBACK_TOPIC"])
    common.add_argument(
        "--feedback-delay-days",
        type=float,
        default=7.0,
        help="a fraud is confirmed on the feedback topic this long after it happened",
    )
    common.add_argument("--bad-records", type=int, default=0, help="how many bad records to mix in")
    common.add_argument("--bad-every", type=int, default=500, help="one bad record after this many transactions")
    common.add_argument(
        "--shift-to-now", action="store_true", help="move event times so the last transaction happens now"
    )
    common.add_argument(
        "--from",
        dest="send_from",
        type=datetime.fromisoformat,
        help="send only what happens from this time on (earlier frauds are still confirmed)",
    )
    common.add_argument(
        "--until",
        dest="send_until",
        type=datetime.fromisoformat,
        help="stop at this time; confirmations due later are left for a run --from it",
    )
    common.add_argument("--labels-out", type=Path, help="write the ground truth of what was sent (Parquet)")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    common.add_argument(
        "--resume-after",
        type=int,
        default=0,
        metavar="N",
        help="skip the first N messages: those a failed run of the same command delivered",
    )

    parser = argparse.ArgumentParser(
        prog="producer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    simulate = commands.add_parser("simulate", parents=[common], help="generate transactions")
    simulate.add_argument("--cards", type=int, default=2000)
    simulate.add_argument("--days", type=int, default=7)
    simulate.add_argument("--seed", type=int, default=42)
    simulate.add_argument(
        "--start", type=datetime.fromisoformat, help="first day (UTC), e.g. 2026-11-01; default: --days before now"
    )
    simulate.add_argument("--out", type=Path, help="write the project file format instead of sending")
    replay = commands.add_parser("replay", parents=[common], help="stream a file in event-time order")
    replay.add_argument("file", type=Path)
    replay.add_argument("--format", choices=["project", "handbook"], default="project")
    args = parser.parse_args(argv)
    if args.bad_records and not args.bad_every:
        parser.error("--bad-records needs --bad-every > 0")
    return args


def main(argv: list[str] | None = None, on_exit: Callable[[Summary], None] | None = None) -> int:
    """`on_exit` gets the summary of a send, also when it failed (e.g. to record where to resume).
    Results and errors are logged (as JSON lines from the command line, producer/__main__.py; in an
    Airflow task, by Airflow's own handlers); progress is printed."""
    args = parse_args(argv)
    labels = LabelSink(args.labels_out)
    items = labels.watch(_source(args))
    if getattr(args, "out", None):
        written = files.write_project(args.out, items)
        labels.write()
        log.info("wrote %d transactions to %s", written, args.out)
        return 0
    writer = open_writer(args)
    try:
        send(items, args, writer)
    except KafkaException as error:
        log.error("sending stopped: %s", error, extra={"topic": args.topic})
    finally:
        if on_exit:
            on_exit(writer.summary)
    summary = writer.summary
    labels.write()
    log.info("%s", summary, extra={"topic": args.topic})
    for error in summary.errors:
        log.error("delivery failed: %s", error, extra={"topic": args.topic})
    if summary.failed or summary.delivered < summary.sent.total() + args.resume_after:
        log.error(
            "the first %d messages are delivered: rerun with --resume-after %d to send the rest",
            summary.delivered,
            summary.delivered,
            extra={"topic": args.topic},
        )
        return 1
    return 0
