"""A Kafka record's value, from bytes to a JSON document: the checks both input topics share.

The scoring job hands the UDF every record value as bytes (flink/sql/scoring/2_sources.sql): decoding is
part of validation, so a value that is not what a message must be (UTF-8 JSON of at most
MAX_JUDGED_BYTES, RFC 8259) gets a reason like any other bad message and is dead-lettered; nothing a
record can carry raises. Every rejection carries a short machine-readable reason (`code: detail`).
"""

from __future__ import annotations

import json

import orjson

# Longer values are rejected as `too_large` without being parsed. The job's SQL hands the UDF only this
# many bytes of a longer value (with its length and sha256), so one Python batch holds at most
# bundle size x this much payload, whatever the records carry. A transaction is a few hundred bytes.
MAX_JUDGED_BYTES = 16 * 1024

BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16/32 LE, UTF-16 BE
UTF32_BE_BOM = b"\x00\x00\xfe\xff"


class Rejected(ValueError):
    """A record that is not a valid message; `reason` is `code: detail`."""

    def __init__(self, code: str, detail: str = ""):
        self.code = code
        # Details quote the message, which may hold lone surrogates (valid JSON escapes, invalid UTF-8):
        # escape them so the reason can always be written out.
        detail = detail.encode("utf-8", "backslashreplace").decode()
        self.reason = f"{code}: {detail}" if detail else code
        super().__init__(self.reason)


def load_json(value: bytes | None) -> object:
    """The JSON document a record value holds, or Rejected: `tombstone` (no value at all), `empty_value`,
    `too_large`, `invalid_encoding` (not UTF-8, a byte order mark, a NUL byte: UTF-16/32 text) or
    `malformed_json`. Valid messages cost one orjson call; the slower checks run only when it fails."""
    if value is None:
        raise Rejected("tombstone", "the record has no value")
    if not value:
        raise Rejected("empty_value")
    if len(value) > MAX_JUDGED_BYTES:
        raise Rejected("too_large", f"{len(value)} bytes, at most {MAX_JUDGED_BYTES}")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    # orjson takes strict JSON in valid UTF-8 only: say which of the two this value is not.
    if value.startswith(BYTE_ORDER_MARKS) or value.startswith(UTF32_BE_BOM):
        raise Rejected(
            "invalid_encoding", f"starts with a byte order mark {value[:4]!r}: messages are UTF-8 without one"
        )
    if (nul := value.find(b"\x00")) >= 0:
        raise Rejected("invalid_encoding", f"NUL byte at {nul}: UTF-16 or UTF-32 text? Messages are UTF-8")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected("invalid_encoding", f"not UTF-8: {error.reason} at byte {error.start}") from None
    # The standard parser also takes NaN, huge integers and lone surrogate escapes, which then get their
    # precise reason from the field checks.
    try:
        return json.loads(text)
    except ValueError as error:
        raise Rejected("malformed_json", str(error)[:120]) from None
    except RecursionError:
        raise Rejected("malformed_json", "nested too deeply") from None


def load_document(value: bytes | None, required: tuple[str, ...], fields: frozenset[str], version: int) -> dict:
    """The JSON object a message of one schema holds: every required field present (not null), no field
    the schema does not name, the schema's version. Rejected otherwise."""
    doc = load_json(value)
    if not isinstance(doc, dict):
        raise Rejected("malformed_json", f"expected an object, got {type(doc).__name__}")
    if missing := [name for name in required if doc.get(name) is None]:
        raise Rejected("missing_field", ",".join(missing))
    if not fields.issuperset(doc):
        raise Rejected("unknown_field", ",".join(sorted(set(doc) - fields))[:120])
    found = doc["schema_version"]
    if isinstance(found, bool) or found != version:
        raise Rejected("unsupported_schema_version", f"schema_version={found!r}")
    return doc
