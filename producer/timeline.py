"""The messages a run produces, in event-time order: transactions, the delayed confirmation of each
fraud (fraud_feedback, `delay` after the transaction), and optionally some bad records.

Feedback still pending when the transactions run out is sent at the end, so every fraud is confirmed.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from include.scoring.feedback import Feedback, encode_feedback
from include.transactions import encode, format_event_time
from producer.labelled import Labelled

TX, FEEDBACK, BAD = "transaction", "feedback", "bad"


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    key: str
    value: bytes
    timestamp_ms: int
    tx_id: str | None = None


def shifted(items: Iterable[Labelled], shift_ms: int) -> Iterator[Labelled]:
    """The same transactions, `shift_ms` later (to replay old data as if it happened now)."""
    for item in items:
        yield item._replace(tx=dataclasses.replace(item.tx, event_ms=item.tx.event_ms + shift_ms))


def bad_record(n: int, around: Labelled) -> Message:
    """The n-th bad record (kinds cycle), shaped like the transaction it is sent next to."""
    tx = around.tx
    good = json.loads(encode(tx))
    good["tx_id"] = f"bad-{n:06d}"
    kind = n % 8
    if kind == 0:
        value = json.dumps(good)[:40].encode()  # malformed JSON (cut short)
    elif kind == 1:
        value = json.dumps({k: v for k, v in good.items() if k != "amount"}).encode()  # missing field
    elif kind == 2:
        value = json.dumps({**good, "amount": f"{tx.amount:.2f}"}).encode()  # wrong type
    elif kind == 3:
        value = json.dumps({**good, "amount": -abs(tx.amount)}).encode()  # negative amount
    elif kind == 4:
        value = json.dumps({**good, "amount": float("nan")}).encode()  # NaN amount
    elif kind == 5:
        value = json.dumps({**good, "amount": 1e12}).encode()  # absurd amount
    elif kind == 6:
        value = json.dumps({**good, "card_id": "4111-1111-1111-1111"}).encode()  # unknown card format
    else:
        value = json.dumps({**good, "is_fraud": True}).encode()  # a label leaking in
    return Message(BAD, tx.card_id, value, tx.event_ms, good["tx_id"])


def messages(
    items: Iterable[Labelled],
    feedback_delay_ms: int,
    bad_every: int = 0,
    bad_limit: int = 0,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Iterator[Message]:
    """Transactions and feedback in event-time order; a bad record after every `bad_every`-th
    transaction, `bad_limit` of them at most.

    With start_ms/end_ms, only what happens in [start_ms, end_ms) is sent, so a replay can be split
    into parts (e.g. to train a model in between): earlier frauds still get their confirmations in the
    part where those fall, and confirmations due after end_ms are left to the next part.
    """
    start_ms = start_ms if start_ms is not None else -1
    pending: list[tuple[int, str, Feedback]] = []
    bad_sent = sent = 0
    for item in items:
        tx = item.tx
        if end_ms is not None and tx.event_ms >= end_ms:
            break
        while pending and pending[0][0] <= tx.event_ms:
            feedback = heapq.heappop(pending)[2]
            if feedback.confirmed_ms >= start_ms:
                yield _feedback_message(feedback)
        if item.is_fraud:
            confirmed = tx.event_ms + feedback_delay_ms
            heapq.heappush(
                pending,
                (
                    confirmed,
                    tx.tx_id,
                    Feedback(
                        tx.tx_id, tx.card_id, tx.terminal_id, tx.event_ms, confirmed, item.fraud_pattern, tx.amount
                    ),
                ),
            )
        if tx.event_ms < start_ms:
            continue
        yield Message(TX, tx.card_id, encode(tx), tx.event_ms, tx.tx_id)
        sent += 1
        if bad_every and sent % bad_every == 0 and bad_sent < bad_limit:
            yield bad_record(bad_sent, item)
            bad_sent += 1
    while pending and (end_ms is None or pending[0][0] < end_ms):
        feedback = heapq.heappop(pending)[2]
        if feedback.confirmed_ms >= start_ms:
            yield _feedback_message(feedback)


def _feedback_message(fb: Feedback) -> Message:
    return Message(FEEDBACK, fb.card_id, encode_feedback(fb), fb.confirmed_ms, fb.tx_id)


def describe(message: Message) -> str:
    return f"{message.kind} {message.tx_id} at {format_event_time(message.timestamp_ms)}"
