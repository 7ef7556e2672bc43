"""What one judged batch says about the job, as plain numbers: the scoring UDF (flink/udf_metrics.py)
adds them to Flink metrics, which the Prometheus reporter exposes (stack/prometheus/README.md).

Distributions are Prometheus-style histograms: for each upper bound, how many values are at most that
bound (cumulative), the last bound being +Inf. Flink has no histogram type the Prometheus reporter
exports from Python, so each bound is a counter with an `le` label and PromQL's histogram_quantile reads
them as a histogram. Every label value comes from a fixed set (the bounds, the rejection codes written
in include/messages.py and scorer.py), so the series a job exposes are bounded.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from include.scoring.scorer import ALERT, CONFIRMED, REJECTED, SCORED, Result

INF = math.inf
BATCH_RECORDS_BOUNDS = (1, 10, 100, 1_000, 10_000, INF)
BATCH_SECONDS_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, INF)
# Detection latency: from the transaction's event time to its verdict, as dbt's fct_alert_latency_daily. The budget
# the rules judge it by (0.25 s) is a bound, so quantiles near it are exact to the bucket.
DETECTION_SECONDS_BOUNDS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, INF)
SCORE_BOUNDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, INF)
# The codes a dead letter's reason starts with (include/messages.py, transactions.py, scoring/feedback.py,
# scorer.py; tests/unit/test_reason_codes.py finds them there). Their counters are reported from the first batch,
# so a rate sees a reason's first dead letters; a code missing here is still counted, from its first.
REJECTION_CODES = (
    "tombstone",
    "empty_value",
    "too_large",
    "invalid_encoding",
    "malformed_json",
    "unsupported_schema_version",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "key_mismatch",
    "invalid_tx_id",
    "invalid_card_id",
    "invalid_terminal_id",
    "invalid_currency",
    "invalid_event_time",
    "invalid_amount",
    "invalid_location",
    "invalid_channel",
    "invalid_merchant_category",
    "invalid_fraud_pattern",
    "invalid_tx_event_time",
    "invalid_confirmed_at",
    "too_old",
    "duplicate_tx_id",
    "unreadable",
)
# Records scored later than this after their event time are a replay or a backfill, not live traffic:
# their delay is the data's age, not the job's latency (as dbt's var live_traffic_max_delay_ms).
LIVE_TRAFFIC_MAX_DELAY_MS = 3_600_000


def bound_label(bound: float) -> str:
    """The `le` label of a bound as Prometheus writes it."""
    return "+Inf" if bound == INF else repr(float(bound)) if isinstance(bound, float) else str(bound)


def cumulative_counts(bounds: Sequence[float], values: Iterable[float]) -> list[int]:
    """For each bound, how many values are at most that bound; `bounds` ascending and ending with +Inf."""
    per_bucket = [0] * len(bounds)
    for value in values:
        per_bucket[bisect.bisect_left(bounds, value)] += 1
    running, cumulative = 0, []
    for count in per_bucket:
        running += count
        cumulative.append(running)
    return cumulative


@dataclass
class BatchReport:
    records: int = 0
    scored: int = 0
    confirmed: int = 0
    alerts: int = 0
    replayed: int = 0  # scored more than LIVE_TRAFFIC_MAX_DELAY_MS after their event time
    rejected_by_code: Counter = field(default_factory=Counter)
    detection_seconds: list[float] = field(default_factory=list)  # of the live scored transactions
    scores: list[float] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_code.values())


def rejection_code(reason: str | None) -> str:
    """`too_old: event_time ...` -> `too_old`: the code before the detail."""
    return (reason or "unknown").split(":", 1)[0].strip() or "unknown"


def report(verdicts: Sequence[Result]) -> BatchReport:
    batch = BatchReport(records=len(verdicts))
    for verdict in verdicts:
        if verdict.status == SCORED:
            batch.scored += 1
            batch.alerts += verdict.decision == ALERT
            if verdict.score is not None:
                batch.scores.append(verdict.score)
            delay_ms = verdict.scored_ms - verdict.tx.event_ms
            if delay_ms <= LIVE_TRAFFIC_MAX_DELAY_MS:
                batch.detection_seconds.append(max(delay_ms, 0) / 1000)
            else:
                batch.replayed += 1
        elif verdict.status == CONFIRMED:
            batch.confirmed += 1
        elif verdict.status == REJECTED:
            batch.rejected_by_code[rejection_code(verdict.reject_reason)] += 1
    return batch
