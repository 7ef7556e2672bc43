"""The transaction message (schema include/schemas/transaction.v1.json): encode for the producer,
validate for the scoring job.

Validation is hand-written rather than a JSON-Schema library call because it runs for every message in
the scoring UDF; tests/unit/test_transactions.py checks it agrees with the JSON Schema document.
It starts from the record value's bytes (include/messages.py decodes them). Every rejection carries a
short machine-readable reason (`code: detail`) that ends up in the dead letter.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from include.messages import Rejected, load_document

SCHEMA_VERSION = 1
MAX_AMOUNT = 100_000.0
# How far a transaction's event_time may lie after its Kafka record timestamp (Kafka itself refuses
# record timestamps more than an hour ahead of the broker's clock): a transaction from the future would
# push the card's older history out of its retention window.
MAX_EVENT_AHEAD_MS = 3_600_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
CARD_PATTERN = re.compile(r"C[0-9]{9}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Timestamps in the schema: UTC, ending in Z (feedback.py checks confirmations' times with it too).
UTC_TIMESTAMP_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z"
_EVENT_TIME = re.compile(UTC_TIMESTAMP_PATTERN)
_CHANNELS = {"pos", "ecom", None}

REQUIRED = ("schema_version", "tx_id", "card_id", "terminal_id", "amount", "currency", "event_time")
OPTIONAL = ("merchant_category", "channel", "lat", "lon")
FIELDS = frozenset(REQUIRED + OPTIONAL)


@dataclass(frozen=True, slots=True)
class Transaction:
    tx_id: str
    card_id: str
    terminal_id: str
    amount: float
    currency: str
    event_ms: int  # event_time as milliseconds since the epoch (UTC)
    merchant_category: str | None = None
    channel: str | None = None
    lat: float | None = None
    lon: float | None = None


def format_event_time(event_ms: int) -> str:
    return (EPOCH + event_ms * _MILLISECOND).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def encode(tx: Transaction) -> bytes:
    """The message value for a transaction (schema version 1), as the producer sends it."""
    message = {
        "schema_version": SCHEMA_VERSION,
        "tx_id": tx.tx_id,
        "card_id": tx.card_id,
        "terminal_id": tx.terminal_id,
        "merchant_category": tx.merchant_category,
        "channel": tx.channel,
        "amount": round(tx.amount, 2),
        "currency": tx.currency,
        "event_time": format_event_time(tx.event_ms),
        "lat": tx.lat,
        "lon": tx.lon,
    }
    return json.dumps(message, separators=(",", ":"), allow_nan=True).encode()


def string_field(doc: dict, name: str, pattern: re.Pattern, code: str) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise Rejected(code, f"{name}={value[:80]!r}")
    return value


def number_field(doc: dict, name: str, out_of_range_code: str) -> float | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected("wrong_type", f"{name} must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise Rejected(out_of_range_code, f"{name} has {len(str(value))} digits") from None


def event_ms(text: str) -> int:
    """Milliseconds since the epoch of a timestamp in the schema's format (UTC, ending in Z)."""
    if not _EVENT_TIME.fullmatch(text):
        raise ValueError(f"not a UTC timestamp like 2026-11-29T12:00:00.000Z: {text!r}")
    return _utc_ms(text)


def _utc_ms(text: str) -> int:
    """event_ms() of a text already matched against the schema's format."""
    parsed = datetime.fromisoformat(text)
    if not 2000 <= parsed.year <= 2100:
        raise ValueError(f"{text!r} is outside 2000-2100")
    return (parsed - EPOCH) // _MILLISECOND


def parse(payload: bytes | None, kafka_ms: int | None = None) -> Transaction:
    """A valid Transaction from a record value, or Rejected with the reason. With the record's Kafka
    timestamp `kafka_ms`, an event_time more than MAX_EVENT_AHEAD_MS after it is rejected too."""
    doc = load_document(payload, REQUIRED, FIELDS, SCHEMA_VERSION)
    tx_id = string_field(doc, "tx_id", ID_PATTERN, "invalid_tx_id")
    card_id = string_field(doc, "card_id", CARD_PATTERN, "invalid_card_id")
    terminal_id = string_field(doc, "terminal_id", ID_PATTERN, "invalid_terminal_id")
    currency = string_field(doc, "currency", _CURRENCY, "invalid_currency")
    event_text = string_field(doc, "event_time", _EVENT_TIME, "invalid_event_time")
    try:
        tx_event_ms = _utc_ms(event_text)
    except ValueError as error:
        raise Rejected("invalid_event_time", str(error)) from None
    if kafka_ms is not None and tx_event_ms > kafka_ms + MAX_EVENT_AHEAD_MS:
        raise Rejected(
            "invalid_event_time",
            f"event_time={event_text} is more than an hour after the "
            f"record's Kafka timestamp ({kafka_ms} ms since the epoch)",
        )

    amount = number_field(doc, "amount", "invalid_amount")
    # Zero is a real amount: card verifications ("zero-dollar authorizations") are, and fraudsters
    # test stolen cards with them.
    if not math.isfinite(amount) or amount < 0 or amount > MAX_AMOUNT:
        raise Rejected("invalid_amount", f"amount={amount!r} (must be >= 0 and <= {MAX_AMOUNT:.0f})")

    lat, lon = number_field(doc, "lat", "invalid_location"), number_field(doc, "lon", "invalid_location")
    if lat is not None and not (math.isfinite(lat) and -90 <= lat <= 90):
        raise Rejected("invalid_location", f"lat={lat!r}")
    if lon is not None and not (math.isfinite(lon) and -180 <= lon <= 180):
        raise Rejected("invalid_location", f"lon={lon!r}")
    if (lat is None) != (lon is None):
        raise Rejected("invalid_location", "lat and lon come together")

    category = doc.get("merchant_category")
    if category is not None and (not isinstance(category, str) or len(category) > 32):
        raise Rejected("wrong_type", "merchant_category must be a string of at most 32 characters")
    if category is not None and not category.isprintable():
        raise Rejected("invalid_merchant_category", f"merchant_category={category!r}")
    channel = doc.get("channel")
    if not (channel is None or isinstance(channel, str)) or channel not in _CHANNELS:
        raise Rejected("invalid_channel", f"channel={str(channel)[:40]!r}")

    return Transaction(tx_id, card_id, terminal_id, amount, currency, tx_event_ms, category, channel, lat, lon)
