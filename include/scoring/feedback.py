"""Confirmed frauds (the delayed labels on fraud_feedback): the message, and an index of them by
terminal and by card that features count from.

A transaction at time t may use only feedback confirmed at or before t - margin (scoring.yaml
feedback.delay_margin_hours): the producer of feedback publishes a confirmation before any transaction
that is `margin` later, and every scoring worker reads the whole feedback topic up to its current end
before scoring a batch, so what a score uses does not depend on timing and a replay scores the same.

The index is bounded by age: it keeps what was confirmed within `keep_ms` of the newest confirmation it
has read (the card history's retention plus the margin: the longest feedback window, plus the rewind a
restore may make, the same slack card histories keep). What it holds depends only on the records read,
not on when or in which batches, so every worker, and a worker restarted from a snapshot
(feedback_feed.py), holds the same.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import sys
from dataclasses import dataclass

from include.messages import Rejected, load_document
from include.transactions import (
    CARD_PATTERN,
    ID_PATTERN,
    MAX_AMOUNT,
    MAX_EVENT_AHEAD_MS,
    event_ms,
    format_event_time,
    number_field,
    string_field,
)

FEEDBACK_SCHEMA_VERSION = 1
REQUIRED = ("schema_version", "tx_id", "card_id", "terminal_id", "tx_event_time", "confirmed_at")
FIELDS = frozenset(REQUIRED + ("fraud_pattern", "amount"))
MAX_PATTERN_CHARS = 64


@dataclass(frozen=True, slots=True)
class Feedback:
    tx_id: str
    card_id: str
    terminal_id: str
    tx_event_ms: int
    confirmed_ms: int
    fraud_pattern: str | None = None
    amount: float | None = None


def _time(doc: dict, name: str, code: str) -> int:
    value = doc[name]
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    try:
        return event_ms(value)
    except ValueError as error:
        raise Rejected(code, str(error)) from None


def validate_feedback(payload: bytes | None, kafka_ms: int | None = None) -> Feedback:
    """The confirmed fraud a fraud_feedback record value holds, or Rejected with the reason. With the
    record's Kafka timestamp `kafka_ms`, a confirmation more than an hour after it is rejected (as a
    transaction's event time is): a far-future confirmation would age every other one out of the index."""
    doc = load_document(payload, REQUIRED, FIELDS, FEEDBACK_SCHEMA_VERSION)
    tx_id = string_field(doc, "tx_id", ID_PATTERN, "invalid_tx_id")
    card_id = string_field(doc, "card_id", CARD_PATTERN, "invalid_card_id")
    terminal_id = string_field(doc, "terminal_id", ID_PATTERN, "invalid_terminal_id")
    tx_event_ms = _time(doc, "tx_event_time", "invalid_tx_event_time")
    confirmed_ms = _time(doc, "confirmed_at", "invalid_confirmed_at")
    if confirmed_ms < tx_event_ms:
        raise Rejected("invalid_confirmed_at", "confirmed before the transaction happened")
    if kafka_ms is not None and confirmed_ms > kafka_ms + MAX_EVENT_AHEAD_MS:
        raise Rejected(
            "invalid_confirmed_at",
            f"confirmed_at is more than an hour after the record's Kafka timestamp ({kafka_ms} ms since the epoch)",
        )
    pattern = doc.get("fraud_pattern")
    if pattern is not None and not (
        isinstance(pattern, str) and len(pattern) <= MAX_PATTERN_CHARS and pattern.isprintable()
    ):
        raise Rejected("invalid_fraud_pattern", f"fraud_pattern={str(pattern)[:80]!r}")
    amount = number_field(doc, "amount", "invalid_amount")
    if amount is not None and not (math.isfinite(amount) and 0 <= amount <= MAX_AMOUNT):
        raise Rejected("invalid_amount", f"amount={amount!r}")
    return Feedback(tx_id, card_id, terminal_id, tx_event_ms, confirmed_ms, pattern, amount)


def parse_feedback(payload: bytes | None, kafka_ms: int | None = None) -> Feedback | None:
    """validate_feedback, or None for a record that is not a valid confirmation (the side input skips
    it; the job dead-letters it)."""
    try:
        return validate_feedback(payload, kafka_ms)
    except Rejected:
        return None


def encode_feedback(fb: Feedback) -> bytes:
    return json.dumps(
        {
            "schema_version": FEEDBACK_SCHEMA_VERSION,
            "tx_id": fb.tx_id,
            "card_id": fb.card_id,
            "terminal_id": fb.terminal_id,
            "tx_event_time": format_event_time(fb.tx_event_ms),
            "confirmed_at": format_event_time(fb.confirmed_ms),
            "fraud_pattern": fb.fraud_pattern,
            "amount": fb.amount,
        },
        separators=(",", ":"),
    ).encode()


class FeedbackIndex:
    """Sorted confirmation times of confirmed frauds per terminal and per card, bounded by age (module
    docstring); `keep_ms=None` keeps everything (unit tests, tools)."""

    def __init__(self, keep_ms: int | None = None) -> None:
        self.keep_ms = keep_ms
        self._terminal: dict[str, list[int]] = {}
        self._card: dict[str, list[int]] = {}
        self._seen: set[str] = set()  # tx_ids indexed: a repeat counts once
        self._by_age: list[tuple[int, str, str, str]] = []  # heap of (confirmed_ms, tx_id, card, terminal)
        self.newest_ms: int | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, fb: Feedback) -> bool:
        """Indexes a confirmation; False if the same tx_id is indexed already or it is too old to keep."""
        return self.add_confirmation(fb.tx_id, fb.card_id, fb.terminal_id, fb.confirmed_ms)

    def add_confirmation(self, tx_id: str, card_id: str, terminal_id: str, confirmed_ms: int) -> bool:
        if tx_id in self._seen or (
            self.keep_ms is not None and self.newest_ms is not None and confirmed_ms < self.newest_ms - self.keep_ms
        ):
            return False
        # Interned: thousands of confirmations share a terminal, and the index keys hold the same strings.
        card_id, terminal_id = sys.intern(card_id), sys.intern(terminal_id)
        self._seen.add(tx_id)
        bisect.insort(self._terminal.setdefault(terminal_id, []), confirmed_ms)
        bisect.insort(self._card.setdefault(card_id, []), confirmed_ms)
        heapq.heappush(self._by_age, (confirmed_ms, tx_id, card_id, terminal_id))
        if self.newest_ms is None or confirmed_ms > self.newest_ms:
            self.newest_ms = confirmed_ms
            if self.keep_ms is not None:
                self._evict(confirmed_ms - self.keep_ms)
        return True

    def _evict(self, older_than_ms: int) -> None:
        while self._by_age and self._by_age[0][0] < older_than_ms:
            confirmed_ms, tx_id, card_id, terminal_id = heapq.heappop(self._by_age)
            self._seen.discard(tx_id)
            for index, key in ((self._terminal, terminal_id), (self._card, card_id)):
                times = index[key]
                del times[bisect.bisect_left(times, confirmed_ms)]
                if not times:
                    del index[key]

    def confirmations(self) -> list[tuple[str, str, str, int]]:
        """Everything indexed, as (tx_id, card_id, terminal_id, confirmed_ms), oldest first: a snapshot
        that add_confirmation() restores."""
        return [(tx_id, card, terminal, confirmed) for confirmed, tx_id, card, terminal in sorted(self._by_age)]

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
