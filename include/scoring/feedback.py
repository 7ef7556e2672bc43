"""Confirmed frauds (the delayed labels on fraud_feedback), indexed by terminal and by card.

A transaction at time t may use only feedback confirmed at or before t - margin (scoring.yaml
feedback.delay_margin_hours): the producer of feedback publishes a confirmation before any transaction
that is `margin` later, and every scoring worker reads the whole feedback topic up to its current end
before scoring a batch, so what a score uses does not depend on timing and a replay scores the same.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from include.transactions import event_ms, format_event_time

FEEDBACK_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Feedback:
    tx_id: str
    card_id: str
    terminal_id: str
    tx_event_ms: int
    confirmed_ms: int
    fraud_pattern: str | None = None
    amount: float | None = None


def _id(doc: dict, name: str) -> str:
    value = doc[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def parse_feedback(payload: bytes | str) -> Feedback | None:
    """The feedback record in a fraud_feedback message, or None when it is not one. The Flink job's
    SQL (flink/sql/scoring/2_sources.sql, feedback_parsed) applies the same checks and dead-letters
    what fails them."""
    try:
        doc = json.loads(payload)
        if doc.get("schema_version") != FEEDBACK_SCHEMA_VERSION:
            return None
        return Feedback(_id(doc, "tx_id"), _id(doc, "card_id"), _id(doc, "terminal_id"),
                        event_ms(doc["tx_event_time"]), event_ms(doc["confirmed_at"]),
                        doc.get("fraud_pattern"), doc.get("amount"))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def encode_feedback(fb: Feedback) -> bytes:
    return json.dumps({
        "schema_version": FEEDBACK_SCHEMA_VERSION,
        "tx_id": fb.tx_id,
        "card_id": fb.card_id,
        "terminal_id": fb.terminal_id,
        "tx_event_time": format_event_time(fb.tx_event_ms),
        "confirmed_at": format_event_time(fb.confirmed_ms),
        "fraud_pattern": fb.fraud_pattern,
        "amount": fb.amount,
    }, separators=(",", ":")).encode()


class FeedbackIndex:
    """Sorted confirmation times of confirmed frauds per terminal and per card."""

    def __init__(self) -> None:
        self._terminal: dict[str, list[int]] = {}
        self._card: dict[str, list[int]] = {}
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, fb: Feedback) -> bool:
        if fb.tx_id in self._seen:
            return False
        self._seen.add(fb.tx_id)
        bisect.insort(self._terminal.setdefault(fb.terminal_id, []), fb.confirmed_ms)
        bisect.insort(self._card.setdefault(fb.card_id, []), fb.confirmed_ms)
        return True

    @staticmethod
    def _count(times: list[int] | None, as_of_ms: int, window_ms: int) -> int:
        if not times:
            return 0
        return bisect.bisect_right(times, as_of_ms) - bisect.bisect_right(times, as_of_ms - window_ms)

    def terminal_frauds(self, terminal_id: str, as_of_ms: int, window_ms: int) -> int:
        """Frauds at this terminal confirmed in (as_of - window, as_of]."""
        return self._count(self._terminal.get(terminal_id), as_of_ms, window_ms)

    def card_frauds(self, card_id: str, as_of_ms: int, window_ms: int) -> int:
        return self._count(self._card.get(card_id), as_of_ms, window_ms)
