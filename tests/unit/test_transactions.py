"""Schema validation of transaction messages (include/transactions.py against the JSON Schema)."""

from __future__ import annotations

import json
import math

import jsonschema
import orjson
import pytest

from include import settings
from include.transactions import Rejected, Transaction, encode, event_ms, format_event_time, parse

SCHEMA = json.loads((settings.REPO_ROOT / "include" / "schemas" / "transaction.v1.json").read_text())
GOOD = Transaction("tx-1", "C000000042", "T000007", 12.5, "EUR", 1_700_000_000_123, "grocery", "pos", 48.85, 2.35)


def _message(**changes) -> bytes:
    doc = json.loads(encode(GOOD))
    for key, value in changes.items():
        if value is _DROP:
            doc.pop(key)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


_DROP = object()


def test_encode_then_parse_round_trips():
    assert parse(encode(GOOD)) == GOOD


def test_optional_fields_may_be_absent():
    tx = parse(_message(merchant_category=_DROP, channel=_DROP, lat=_DROP, lon=_DROP))
    assert (tx.merchant_category, tx.channel, tx.lat, tx.lon) == (None, None, None, None)


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"", "empty_value"),
        (None, "tombstone"),
        (b'{"tx_id": "x", ', "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (_message(amount=_DROP), "missing_field"),
        (_message(card_id=None), "missing_field"),
        (_message(amount="12.50"), "wrong_type"),
        (_message(amount=True), "wrong_type"),
        (_message(tx_id=42), "wrong_type"),
        (_message(amount=-3.0), "invalid_amount"),
        (_message(amount=-0.01), "invalid_amount"),
        (_message(amount=1e12), "invalid_amount"),
        (
            b'{"schema_version":1,"tx_id":"a","card_id":"C000000001","terminal_id":"T1","amount":NaN,'
            b'"currency":"EUR","event_time":"2026-01-01T00:00:00Z"}',
            "invalid_amount",
        ),
        (_message(card_id="4111-1111-1111-1111"), "invalid_card_id"),
        (_message(card_id="C12"), "invalid_card_id"),
        (_message(event_time="2026-13-45T99:00:00Z"), "invalid_event_time"),
        (_message(event_time="2026-01-01 10:00:00"), "invalid_event_time"),
        (_message(event_time="1970-01-01T00:00:00Z"), "invalid_event_time"),
        (_message(currency="euro"), "invalid_currency"),
        (_message(lat=95.0), "invalid_location"),
        (_message(lon=_DROP), "invalid_location"),
        (_message(channel="phone"), "invalid_channel"),
        (_message(is_fraud=True), "unknown_field"),
        (_message(schema_version=2), "unsupported_schema_version"),
        # Values that once escaped validation as Python errors (and would have failed the job):
        (_message(channel=[]), "invalid_channel"),
        (_message(channel={"a": 1}), "invalid_channel"),
        (_message(amount=0).replace(b'"amount": 0', b'"amount": 1' + b"0" * 400), "invalid_amount"),
        (_message(lat=0).replace(b'"lat": 0', b'"lat": 1' + b"0" * 400), "invalid_location"),
        (b"[" * 16_000, "malformed_json"),
        (_message(merchant_category="\ud800"), "invalid_merchant_category"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(payload, code):
    with pytest.raises(Rejected) as rejected:
        parse(payload)
    assert rejected.value.code == code
    assert rejected.value.reason.startswith(code)


@pytest.mark.parametrize(
    "payload",
    [
        encode(GOOD),
        _message(lat=_DROP, lon=_DROP, channel=None),
        _message(amount=-3.0),
        _message(amount="12.50"),
        _message(card_id="C12"),
        _message(is_fraud=True),
        _message(amount=_DROP),
        _message(currency="euro"),
        _message(event_time="2026-01-01 10:00:00"),
    ],
)
def test_validator_agrees_with_the_json_schema(payload):
    doc = json.loads(payload)
    schema_ok = jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    try:
        parse(payload)
        validator_ok = True
    except Rejected:
        validator_ok = False
    assert validator_ok == schema_ok


def test_a_reason_with_a_lone_surrogate_can_still_be_written_as_json():
    payload = _message().replace(b'"tx_id"', b'"\\ud800":1,"tx_id"')
    with pytest.raises(Rejected) as rejected:
        parse(payload)
    assert rejected.value.code == "unknown_field"
    assert orjson.loads(orjson.dumps({"reason": rejected.value.reason}))["reason"] == "unknown_field: \\ud800"


def test_an_event_time_more_than_an_hour_after_the_kafka_timestamp_is_rejected():
    kafka_ms = GOOD.event_ms - 3_600_000
    assert parse(encode(GOOD), kafka_ms=kafka_ms) == GOOD
    with pytest.raises(Rejected, match="invalid_event_time: .* more than an hour after"):
        parse(encode(GOOD), kafka_ms=kafka_ms - 1)


def test_event_times_keep_their_milliseconds_in_any_year():
    for text in ("2039-07-06T01:24:33.693Z", "2099-12-31T23:59:59.999Z", "2000-01-01T00:00:00.001Z"):
        assert format_event_time(event_ms(text)) == text


def test_a_zero_amount_verification_is_a_transaction():
    assert parse(_message(amount=0)).amount == 0.0


def test_non_finite_amounts_never_pass():
    for value in (math.inf, -math.inf):
        with pytest.raises(Rejected):
            parse(_message(amount=value))
