"""What a judged batch reports to the metrics (include/scoring/batch_report.py)."""

from __future__ import annotations

import math

from include.scoring.batch_report import (
    DETECTION_SECONDS_BOUNDS,
    LIVE_TRAFFIC_MAX_DELAY_MS,
    bound_label,
    cumulative_counts,
    rejection_code,
    report,
)
from include.scoring.scorer import ALERT, CONFIRMED, PASS, REJECTED, SCORED, Result, SourceRecord
from include.transactions import Transaction

NOW = 1_796_000_000_000


def scored(event_ms: int, score: float, decision: str = PASS) -> Result:
    tx = Transaction("tx", "C000000001", "T1", 10.0, "EUR", event_ms)
    return Result(SCORED, SourceRecord(b"{}", 0, 0, event_ms), tx=tx, score=score, decision=decision, scored_ms=NOW)


def rejected(reason: str | None) -> Result:
    return Result(REJECTED, SourceRecord(b"x", 0, 0, NOW), reject_reason=reason)


def test_cumulative_counts_are_what_histogram_quantile_reads():
    bounds = (0.1, 0.5, 1.0, math.inf)
    assert cumulative_counts(bounds, [0.05, 0.1, 0.3, 2.0, 7.0]) == [2, 3, 3, 5]
    assert cumulative_counts(bounds, []) == [0, 0, 0, 0]
    assert bounds[-1] == DETECTION_SECONDS_BOUNDS[-1] == math.inf  # every histogram ends with +Inf


def test_bound_labels_are_prometheus_le_values():
    assert [bound_label(b) for b in (1, 0.25, 10.0, math.inf)] == ["1", "0.25", "10.0", "+Inf"]


def test_rejection_codes_drop_the_detail():
    assert rejection_code("too_old: event_time 2026-01-01T00:00:00.000Z is more than") == "too_old"
    assert rejection_code("empty_value") == "empty_value"
    assert rejection_code(None) == rejection_code("") == "unknown"


def test_a_batch_counts_each_kind_once_and_keeps_replays_out_of_the_latency():
    batch = report(
        [
            scored(NOW - 120, 0.9, ALERT),
            scored(NOW - LIVE_TRAFFIC_MAX_DELAY_MS, 0.2),  # the oldest that is still live
            scored(NOW - LIVE_TRAFFIC_MAX_DELAY_MS - 1, 0.1),  # a replay
            rejected("malformed_json: expected value"),
            rejected("malformed_json: trailing bytes"),
            rejected("too_old: event_time ..."),
            Result(CONFIRMED, SourceRecord(b"{}", 0, 1, NOW)),
        ]
    )
    assert (batch.records, batch.scored, batch.alerts, batch.confirmed, batch.replayed) == (7, 3, 1, 1, 1)
    assert batch.rejected_by_code == {"malformed_json": 2, "too_old": 1} and batch.rejected == 3
    assert batch.detection_seconds == [0.12, LIVE_TRAFFIC_MAX_DELAY_MS / 1000]
    assert batch.scores == [0.9, 0.2, 0.1]


def test_a_verdict_stamped_before_its_event_time_counts_as_no_delay():
    """A clock ahead on the card terminal: never a negative latency in the histogram."""
    assert report([scored(NOW + 5_000, 0.1)]).detection_seconds == [0.0]
