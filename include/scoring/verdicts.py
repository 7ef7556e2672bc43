"""One verdict per Kafka record of either input topic, whatever its bytes: a scored transaction, a
confirmed fraud, or a rejected record with its reason (include/dead_letters.py).

The job feeds both topics through one UDF call (flink/sql/scoring/5_verdicts_view.sql), so both are
judged by the same code in the same Python worker. Confirmed frauds are only validated here, for the
Iceberg table of labels; the scorer's features count them from its own reading of the whole topic
(feedback_feed.py), which this worker's share of the topic could not give.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from include.messages import MAX_JUDGED_BYTES, Rejected
from include.scoring.feedback import validate_feedback
from include.scoring.scorer import CONFIRMED, BatchScorer, Result, SourceRecord, rejected


def confirmation(record: SourceRecord) -> Result:
    """The verdict on a record of the feedback topic."""
    try:
        if record.truncated:
            raise Rejected("too_large", f"{record.full_length} bytes, at most {MAX_JUDGED_BYTES}")
        return Result(CONFIRMED, record, feedback=validate_feedback(record.payload, record.kafka_ms))
    except Exception as error:  # noqa: BLE001 - whatever a record holds, it must not stop the job
        return rejected(record, error)


@contextmanager
def judged(scorer: BatchScorer, records: list[SourceRecord], feedback_topic: str) -> Iterator[list[Result]]:
    """The verdicts on `records`, in their order, inside the scorer's batch block (BatchScorer.batch:
    leaving it waits for the card-history write, so hand the verdicts on only after the block)."""
    verdicts: list[Result | None] = [None] * len(records)
    transactions = []
    for i, record in enumerate(records):
        if record.topic == feedback_topic:
            verdicts[i] = confirmation(record)
        else:
            transactions.append(i)
    with scorer.batch([records[i] for i in transactions]) as scored:
        for i, result in zip(transactions, scored):
            verdicts[i] = result
        done_ms = int(time.time() * 1000)
        for verdict in verdicts:
            if verdict.status == CONFIRMED or not verdict.scored_ms:
                verdict.scored_ms = done_ms
        yield verdicts
