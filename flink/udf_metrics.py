"""The scoring UDF's metrics, registered in Flink's metric group `fraud` of the operator that runs it.

Flink's Prometheus reporter exposes them on the TaskManager (names in stack/prometheus/README.md); the
recording rules in stack/prometheus/rules/ give them short names. What a batch contributes is computed in
include/scoring/batch_report.py; this module only holds the Flink counters and gauges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from include.scoring.batch_report import (
    BATCH_RECORDS_BOUNDS,
    BATCH_SECONDS_BOUNDS,
    DETECTION_SECONDS_BOUNDS,
    REJECTION_CODES,
    SCORE_BOUNDS,
    BatchReport,
    bound_label,
    cumulative_counts,
)


class _Histogram:
    """One counter per bound, labelled `le`: `fraud_<name>_le_bucket{le="..."}` on the TaskManager."""

    def __init__(self, group, name: str, bounds: Sequence[float]):
        self.bounds = bounds
        histogram = group.add_group(name)
        self.buckets = [histogram.add_group("le", bound_label(b)).counter("bucket") for b in bounds]

    def observe(self, values) -> None:
        for bucket, count in zip(self.buckets, cumulative_counts(self.bounds, values)):
            if count:
                bucket.inc(count)


class UdfMetrics:
    def __init__(self, metric_group, store, feedback_records: Callable[[], int], cache):
        fraud = metric_group.add_group("fraud")
        self._fraud = fraud
        self.store = store
        self._dead_letters: dict[str, object] = {}
        for code in REJECTION_CODES:
            self.dead_letters(code)
        self._announced = False
        self.records = fraud.counter("records_scored")
        self.confirmed = fraud.counter("records_confirmed")
        self.rejected = fraud.counter("records_rejected")
        self.replayed = fraud.counter("records_replayed")
        self.alerts = fraud.counter("alerts")
        self.batches = fraud.counter("batches")
        self.feedback_read = fraud.counter("feedback_records_read")
        self.dynamodb = {name: fraud.counter(f"dynamodb_{name}") for name in ("requests", "retries", "throttles")}
        self._dynamodb_reported = dict.fromkeys(self.dynamodb, 0)
        self.batch_records = _Histogram(fraud, "batch_records", BATCH_RECORDS_BOUNDS)
        self.batch_seconds = _Histogram(fraud, "batch_seconds", BATCH_SECONDS_BOUNDS)
        self.detection_seconds = _Histogram(fraud, "detection_seconds", DETECTION_SECONDS_BOUNDS)
        self.score = _Histogram(fraud, "score", SCORE_BOUNDS)
        self.feedback_catch_up_ms = 0
        fraud.gauge("feedback_catch_up_ms", lambda: self.feedback_catch_up_ms)
        fraud.gauge("feedback_records", feedback_records)
        fraud.gauge("card_cache_bytes", lambda: cache.bytes)
        fraud.gauge("card_cache_cards", lambda: len(cache))
        fraud.gauge("card_cache_hits", lambda: cache.hits)
        fraud.gauge("card_cache_misses", lambda: cache.misses)

    def dead_letters(self, code: str):
        """The counter of dead letters with this rejection code (`fraud_reason_dead_letters{reason=}`);
        one not in REJECTION_CODES is registered when first seen."""
        if code not in self._dead_letters:
            self._dead_letters[code] = self._fraud.add_group("reason", code).counter("dead_letters")
        return self._dead_letters[code]

    def _announce(self) -> None:
        """Reports every bucket and known rejection code at 0. PyFlink hands a counter to Flink only once
        it was changed within a batch (in open() there is no batch yet), and a series that first appears
        at N hides those N from a rate; so from the first batch on, they all exist."""
        for histogram in (self.batch_records, self.batch_seconds, self.detection_seconds, self.score):
            for bucket in histogram.buckets:
                bucket.inc(0)
        for counter in self._dead_letters.values():
            counter.inc(0)
        self._announced = True

    def record(self, batch: BatchReport, seconds: float, feedback_read: int, feedback_catch_up_ms: int) -> None:
        if not self._announced:
            self._announce()
        self.batches.inc()
        self.records.inc(batch.scored)
        self.confirmed.inc(batch.confirmed)
        self.rejected.inc(batch.rejected)
        self.replayed.inc(batch.replayed)
        self.alerts.inc(batch.alerts)
        for code, count in batch.rejected_by_code.items():
            self.dead_letters(code).inc(count)
        self.feedback_read.inc(feedback_read)
        self.feedback_catch_up_ms = feedback_catch_up_ms
        self.batch_records.observe([batch.records])
        self.batch_seconds.observe([seconds])
        self.detection_seconds.observe(batch.detection_seconds)
        self.score.observe(batch.scores)
        for name, counter in self.dynamodb.items():
            total = getattr(self.store, name)
            counter.inc(total - self._dynamodb_reported[name])
            self._dynamodb_reported[name] = total
