"""The verdict on one Kafka record as the scoring UDF returns it, and the SQL that names its parts.

The UDF's result row (flink/udfs.py) is four fields: `strings`, `doubles` and `bigints`, arrays with one
element per field listed below, and `payload`, the exact bytes of a rejected record that was read whole.
The job's SQL names each element (flink/sql/scoring/5_verdicts_view.sql: `${VERDICT_COLUMNS}`), and the
Iceberg table and its INSERT list the features (`${FEATURE_COLUMNS}`, `${FEATURE_NAMES}`); all three
come from `sql_variables()` here, so a new feature is an edit of features.FEATURES (plus a test), and the
SQL and the Python side cannot disagree on a position.

Why arrays and not a column per field: PyFlink converts a pandas UDF's result column by column
(pandas -> Arrow) at a fixed cost per column and batch: with a column per field (25) that was most of
the UDF's time at a steady rate, with a few columns it is a fraction (bench/README.md). Plain Python, so
unit tests import it without PyFlink.
"""

from __future__ import annotations

from include.scoring.feature_names import FEATURES
from include.scoring.scorer import CONFIRMED, SCORED, Result

STRING_FIELDS = (
    "status",
    "topic",
    "tx_id",
    "card_id",
    "terminal_id",
    "merchant_category",
    "channel",
    "currency",
    "decision",
    "reasons",
    "model_version",
    "alert_json",
    "fraud_pattern",
    "reject_reason",
    "dead_letter_json",
    "payload_sha256",
)
# `amount` is both a transaction field and the first feature: it travels once.
FEATURES_AFTER_AMOUNT = tuple(f for f in FEATURES if f != "amount")
DOUBLE_FIELDS = ("amount", "lat", "lon", "score", "rule_score", *FEATURES_AFTER_AMOUNT)
BIGINT_FIELDS = (
    "event_ms",
    "scored_ms",
    "config_version",
    "kafka_partition",
    "kafka_offset",
    "kafka_ms",
    "confirmed_ms",
    "payload_length",
)

# How the SQL names the bigints that are times (epoch milliseconds: Arrow rows cannot carry TIMESTAMP_LTZ)
# and those that are INT columns.
TIME_COLUMNS = {
    "event_ms": "event_time",
    "scored_ms": "scored_at",
    "kafka_ms": "kafka_ts",
    "confirmed_ms": "confirmed_at",
}
INT_COLUMNS = {"config_version", "kafka_partition"}
# A Kafka timestamp is any int64; a TIMESTAMP column holds years 1 to 9999 (outside: NULL, the raw
# milliseconds stay in kafka_ms).
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_799_999

_NO_STRINGS = [None] * len(STRING_FIELDS)
_NO_DOUBLES = [None] * len(DOUBLE_FIELDS)


def output_arrays(r: Result, model_version: str, config_version: int) -> tuple[list, list, list, bytes | None]:
    """One result as (strings, doubles, bigints, payload), in the order of the field lists above."""
    record = r.record
    if r.status == SCORED:
        tx, features = r.tx, r.features
        return (
            [
                r.status,
                record.topic,
                tx.tx_id,
                tx.card_id,
                tx.terminal_id,
                tx.merchant_category,
                tx.channel,
                tx.currency,
                r.decision,
                r.reasons_json(),
                model_version,
                r.alert_json(model_version, config_version),
                None,
                None,
                None,
                None,
            ],
            [tx.amount, tx.lat, tx.lon, r.score, r.rule_score, *map(features.get, FEATURES_AFTER_AMOUNT)],
            [tx.event_ms, r.scored_ms, config_version, record.partition, record.offset, record.kafka_ms, None, None],
            None,
        )
    if r.status == CONFIRMED:
        fb = r.feedback
        strings = list(_NO_STRINGS)
        strings[:5] = [r.status, record.topic, fb.tx_id, fb.card_id, fb.terminal_id]
        strings[12] = fb.fraud_pattern
        doubles = list(_NO_DOUBLES)
        doubles[0] = fb.amount
        return (
            strings,
            doubles,
            [
                fb.tx_event_ms,
                r.scored_ms,
                None,
                record.partition,
                record.offset,
                record.kafka_ms,
                fb.confirmed_ms,
                None,
            ],
            None,
        )
    letter = r.dead_letter()
    strings = list(_NO_STRINGS)
    strings[:2] = [r.status, record.topic]
    strings[13:] = [letter.reason, letter.json(), letter.payload_sha256]
    return (
        strings,
        list(_NO_DOUBLES),
        [None, r.scored_ms, None, record.partition, record.offset, record.kafka_ms, None, letter.payload_length],
        None if record.truncated else record.payload,
    )


def _column(array: str, position: int, field: str) -> str:
    element = f"v.{array}[{position}]"
    if field in TIME_COLUMNS:
        return (
            f"TO_TIMESTAMP_LTZ(CASE WHEN {element} BETWEEN {_MIN_MS} AND {_MAX_MS} THEN {element} END, 3) "
            f"AS {TIME_COLUMNS[field]}"
        )
    if field in INT_COLUMNS:
        return f"CAST({element} AS INT) AS {field}"
    return f"{element} AS {field}"


def sql_variables() -> dict[str, str]:
    """${VERDICT_COLUMNS}, ${FEATURE_COLUMNS} and ${FEATURE_NAMES} of the job's SQL (module docstring), and
    ${NO_FEATURES} of bench/sql/scoring_without_udf.sql."""
    columns = [
        _column(array, i, field)
        for array, fields in (("strings", STRING_FIELDS), ("doubles", DOUBLE_FIELDS), ("bigints", BIGINT_FIELDS))
        for i, field in enumerate(fields, 1)
    ]
    columns += [f"v.bigints[{BIGINT_FIELDS.index('kafka_ms') + 1}] AS kafka_ms", "v.payload AS payload"]
    return {
        "VERDICT_COLUMNS": ",\n  ".join(columns),
        "FEATURE_COLUMNS": ",\n  ".join(f"{f} DOUBLE" for f in FEATURES_AFTER_AMOUNT),
        "FEATURE_NAMES": ", ".join(FEATURES_AFTER_AMOUNT),
        # the benchmark's design without the UDF computes no feature
        "NO_FEATURES": ",\n  ".join(f"CAST(NULL AS DOUBLE) AS {f}" for f in FEATURES_AFTER_AMOUNT),
    }
