"""A record value as bytes: every class of hostile input gets its machine-readable reason, and the
dead letter written for it stays small and valid whatever the bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.dead_letters import MAX_LETTER_BYTES, DeadLetter, iso_time
from include.messages import MAX_JUDGED_BYTES, Rejected, load_json

VALID = b'{"schema_version":1,"tx_id":"t1"}'


@pytest.mark.parametrize(
    "value, code",
    [
        (None, "tombstone"),
        (b"", "empty_value"),
        (b'{"schema_version":1,"tx_id":"\xff\xfe"}', "invalid_encoding"),  # not UTF-8 at all
        (b'{"a":"\xc0\xaf"}', "invalid_encoding"),  # an overlong '/'
        (b'{"a":"\xed\xa0\x80"}', "invalid_encoding"),  # a surrogate encoded in UTF-8
        (b'{"a":"\xf4\x90\x80\x80"}', "invalid_encoding"),  # above U+10FFFF
        (b'{"a":"\xe2\x82"}', "invalid_encoding"),  # cut inside a character
        (b"\xef\xbb\xbf" + VALID, "invalid_encoding"),  # UTF-8 byte order mark
        (b"\xff\xfe" + VALID.decode().encode("utf-16-le"), "invalid_encoding"),  # UTF-16 LE with BOM
        (b"\xfe\xff" + VALID.decode().encode("utf-16-be"), "invalid_encoding"),  # UTF-16 BE with BOM
        (VALID.decode().encode("utf-16-le"), "invalid_encoding"),  # UTF-16 without BOM: NULs
        (VALID.decode().encode("utf-32"), "invalid_encoding"),  # UTF-32 with BOM
        (VALID.decode().encode("utf-32-be"), "invalid_encoding"),  # UTF-32 BE without BOM
        (b"\x00" * 1000, "invalid_encoding"),  # a NUL flood
        (b"\x01" * 1000, "malformed_json"),  # a control-character flood
        (b'{"a":"\x07"}', "malformed_json"),  # a raw control character in a string
        (b"\x01" * (MAX_JUDGED_BYTES + 1), "too_large"),
        (b"{" * MAX_JUDGED_BYTES, "malformed_json"),  # nested too deeply
    ],
)
def test_every_class_of_bad_bytes_has_its_reason(value, code):
    with pytest.raises(Rejected) as rejected:
        load_json(value)
    assert rejected.value.code == code, rejected.value.reason


def test_a_valid_value_is_parsed_once():
    assert load_json(VALID) == {"schema_version": 1, "tx_id": "t1"}
    assert load_json(b'{"a":NaN,"b":"\\ud800"}')["b"] == "\ud800"  # the field checks give their reasons


def letter(payload: bytes | None, key: bytes | None, reason: str, kafka_ms: int) -> DeadLetter:
    import hashlib

    return DeadLetter(
        reason,
        "credit_card_transactions",
        3,
        2**62,
        kafka_ms,
        key,
        None if payload is None else len(payload),
        None if payload is None else hashlib.sha256(payload).hexdigest(),
        payload,
        1_767_225_600_000,
    )


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(
        st.none(),
        st.binary(max_size=MAX_JUDGED_BYTES),
        st.sampled_from(
            [b"\x01" * MAX_JUDGED_BYTES, b"\\" * MAX_JUDGED_BYTES, b"\xff" * MAX_JUDGED_BYTES, b'"' * MAX_JUDGED_BYTES]
        ),
    ),
    key=st.one_of(st.none(), st.binary(max_size=1024)),
    reason=st.text(max_size=5000),
    kafka_ms=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_a_dead_letter_is_small_valid_json_whatever_it_describes(payload, key, reason, kafka_ms):
    text = letter(payload, key, reason, kafka_ms).json()
    assert len(text.encode()) <= MAX_LETTER_BYTES
    doc = json.loads(text)
    assert doc["payload_length"] == (None if payload is None else len(payload))
    assert doc["kafka_timestamp_ms"] == kafka_ms
    if payload is not None:
        assert doc["payload_prefix"] == payload[:4096].decode("utf-8", "backslashreplace")


def test_a_dead_letter_names_times_outside_years_1_to_9999_by_their_milliseconds_only():
    assert iso_time(0) == "1970-01-01T00:00:00.000Z" and iso_time(-5) == "1969-12-31T23:59:59.995Z"
    assert iso_time(16_725_225_600_000) == "2500-01-01T00:00:00.000Z"
    assert iso_time(-(2**62)) is None and iso_time(2**63 - 1) is None
