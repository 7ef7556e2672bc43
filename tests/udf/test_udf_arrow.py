"""The UDF's entry point driven the way PyFlink drives it, with whatever a Kafka record can hold.

Each batch of records is written as the Arrow record batch the TaskManager sends (the column types of
flink/sql/scoring/5_verdicts_view.sql's call), decoded by PyFlink's own ArrowCoder into pandas, passed
to JudgeRecords.eval through PyFlink's own result check, and the result encoded back by PyFlink's coder
and decoded again: every step where a record once stopped the job (invalid UTF-8 failed the Arrow ->
pandas conversion before any UDF code ran). Arbitrary bytes, keys, sizes, timestamps, partitions and
offsets: one verdict per record, never an exception, and never the catch-all reason `unreadable`.

Card histories and the feedback side input are in-memory stand-ins (the integration tests use the real
services); everything else is the UDF's code. Runs in the "udf-test" environment (PyFlink), see Makefile.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time

import pyarrow as pa
import pytest
import pytz
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pyflink.fn_execution.coder_impl_slow import ArrowCoderImpl
from pyflink.fn_execution.coders import to_arrow_type
from pyflink.fn_execution.utils.operation_utils import check_pandas_udf_result
from pyflink.table import DataTypes

from flink import udfs
from include import model_registry, settings
from include.dead_letters import MAX_LETTER_BYTES
from include.messages import MAX_JUDGED_BYTES
from include.scoring.feedback import Feedback, FeedbackIndex, encode_feedback
from include.scoring.runtime import RUNTIME_PARAMETER, SCORING_CONFIG_PARAMETER
from include.scoring.verdict_layout import BIGINT_FIELDS, STRING_FIELDS
from include.transactions import Transaction, encode
from tests.unit.scoring_fakes import MemoryCardStore

TX_TOPIC, FEEDBACK_TOPIC = "credit_card_transactions", "fraud_feedback"
T0 = 1_767_225_600_000  # 2026-01-01
INPUT_TYPE = DataTypes.ROW(
    [
        DataTypes.FIELD("f0", DataTypes.STRING()),
        DataTypes.FIELD("f1", DataTypes.BYTES()),
        DataTypes.FIELD("f2", DataTypes.BYTES()),
        DataTypes.FIELD("f3", DataTypes.BIGINT()),
        DataTypes.FIELD("f4", DataTypes.STRING()),
        DataTypes.FIELD("f5", DataTypes.INT()),
        DataTypes.FIELD("f6", DataTypes.BIGINT()),
        DataTypes.FIELD("f7", DataTypes.TIMESTAMP_LTZ(3)),
    ]
)
RESULT_TYPE = DataTypes.ROW([DataTypes.FIELD("f0", udfs.OUTPUT_TYPE)])
UTC = pytz.timezone("UTC")


def arrow_coder(row_type) -> ArrowCoderImpl:
    schema = pa.schema([pa.field(f.name, to_arrow_type(f.data_type), True) for f in row_type.fields])
    return ArrowCoderImpl(schema, row_type, UTC)


class _Stream:
    """The byte streams PyFlink's coders read from and write to."""

    def __init__(self, data: bytes = b""):
        self.buffer = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self.buffer.read(size)

    def write(self, data: bytes) -> None:
        self.buffer.write(data)


class _Counter:
    def __init__(self):
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n


class _Metrics:
    """A metric group as PyFlink's: subgroups, labelled (key, value) subgroups, counters, gauges."""

    def add_group(self, *_):
        return self

    def counter(self, *_):
        return _Counter()

    def gauge(self, *_):
        return None


class _Context:
    def __init__(self):
        runtime = {
            "transactions_topic": TX_TOPIC,
            "feedback_topic": FEEDBACK_TOPIC,
            "card_table": "unused",
            "dynamodb_max_attempts": 3,
            "card_cache_bytes": 2**20,
        }
        # The platform's config as a deploy pins it on a registry with no champion: rules only.
        raw = yaml.safe_load((settings.REPO_ROOT / "include" / "scoring" / "scoring.yaml").read_text())
        scoring_yaml = model_registry.pinned_to(raw, raw["model"]["uri"], None).encode()
        self.parameters = {
            RUNTIME_PARAMETER: base64.b64encode(json.dumps(runtime).encode()).decode(),
            SCORING_CONFIG_PARAMETER: base64.b64encode(scoring_yaml).decode(),
        }

    def get_job_parameter(self, key: str, default: str) -> str:
        return self.parameters.get(key, default)

    def get_metric_group(self):
        return _Metrics()


class _NoFeed:
    restored = 0

    def catch_up(self) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def judge():
    """The UDF as the worker opens it, with in-memory stand-ins for DynamoDB and the feedback topic."""
    patch = pytest.MonkeyPatch()
    patch.setattr(udfs.worker_runtime, "card_store", lambda runtime: MemoryCardStore())
    index = FeedbackIndex(keep_ms=61 * 86_400_000)
    index.add(Feedback("old", "C000000001", "T1", T0 - 9 * 86_400_000, T0 - 2 * 86_400_000))
    patch.setattr(udfs.worker_runtime, "feedback_side_input", lambda runtime, scoring: (index, _NoFeed()))
    function = udfs.JudgeRecords()
    function.open(_Context())
    yield function
    function.close()
    patch.undo()


def run_batch(judge, rows: list[tuple]) -> list[dict]:
    """Rows of (topic, key, payload, full_length, full_sha256, partition, offset, kafka_ms) through the
    Arrow path; returns each verdict's named fields."""
    columns = list(zip(*rows))
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(columns[0], pa.string()),
            pa.array(columns[1], pa.binary()),
            pa.array(columns[2], pa.binary()),
            pa.array(columns[3], pa.int64()),
            pa.array(columns[4], pa.string()),
            pa.array(columns[5], pa.int32()),
            pa.array(columns[6], pa.int64()),
            pa.array(columns[7], pa.timestamp("ms")),
        ],
        names=INPUT_TYPE.names,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    ipc = sink.getvalue().to_pybytes()
    series = arrow_coder(INPUT_TYPE).decode_from_stream(_Stream(ipc), len(ipc))

    result = check_pandas_udf_result(judge.eval, *series)

    out = _Stream()
    arrow_coder(RESULT_TYPE).encode_to_stream([result], out)
    # The TaskManager reads the result as Arrow (pandas would turn nullable integers into floats).
    [column] = pa.ipc.open_stream(out.buffer.getvalue()).read_all().columns
    return [
        dict(zip(STRING_FIELDS, row["strings"]))
        | dict(zip(BIGINT_FIELDS, row["bigints"]))
        | {"payload": row["payload"]}
        for row in column.to_pylist()
    ]


def transaction(tx_id: str, card: str, event_ms: int, amount: float) -> bytes:
    return encode(Transaction(tx_id, card, "T1", amount, "EUR", event_ms, "grocery", "pos", 48.1, 11.6))


# Values that look like messages, and values that look like nothing.
_ids = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)
_cards = st.from_regex(r"C[0-9]{9}", fullmatch=True)
_valid_transactions = st.builds(
    transaction,
    _ids,
    _cards,
    st.integers(T0 - 400 * 86_400_000, T0 + 86_400_000),
    st.floats(0, 100_000, allow_nan=False),
)
_valid_feedback = st.builds(
    lambda tx_id, card, at, delay: encode_feedback(Feedback(tx_id, card, "T1", at, at + delay)),
    _ids,
    _cards,
    st.integers(T0 - 400 * 86_400_000, T0),
    st.integers(0, 30 * 86_400_000),
)
_payloads = st.one_of(
    st.none(),
    st.binary(max_size=600),
    _valid_transactions,
    _valid_feedback,
    _valid_transactions.map(lambda b: b[: len(b) // 2]),  # cut short
    _valid_transactions.map(lambda b: b.replace(b'"T1"', b'"\xff"')),  # a byte that is not UTF-8
    _valid_transactions.map(lambda b: b.decode().encode("utf-16")),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\x01" * MAX_JUDGED_BYTES, b"\x00" * 3000, b"[" * 5000, b"\xef\xbb\xbf{}"]),
)


_timestamps = st.one_of(
    st.integers(-(2**63) + 1, 2**63 - 1),
    st.sampled_from([-1, 0, 1, 16_725_225_600_000]),
    st.integers(T0 - 86_400_000, T0 + 86_400_000),
)


def _record(draw, topic: str, key: bytes | None, payload: bytes | None, full_length=None, full_sha256=None) -> tuple:
    """The UDF's input columns for one record, at any partition, offset and record timestamp."""
    position = (draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**63 - 1)), draw(_timestamps))
    return (topic, key, payload, full_length, full_sha256, *position)


@st.composite
def valid_with_any_timestamp(draw) -> tuple:
    """A valid transaction, keyed by its card, whatever its record timestamp."""
    payload = draw(_valid_transactions)
    return _record(draw, TX_TOPIC, json.loads(payload)["card_id"].encode(), payload)


@st.composite
def any_record(draw) -> tuple:
    topic = draw(st.sampled_from([TX_TOPIC, FEEDBACK_TOPIC, "unexpected"]))
    payload = draw(_payloads)
    key = draw(
        st.one_of(
            st.none(),
            st.binary(max_size=40),
            st.just(json.loads(payload)["card_id"].encode()) if _has_card(payload) else st.none(),
        )
    )
    full_length = full_sha256 = None
    if draw(st.integers(0, 20)) == 0:  # a value longer than the UDF is handed: its first 4,096 bytes
        pattern = draw(st.binary(min_size=1, max_size=64))
        payload = (pattern * (4096 // len(pattern) + 1))[:4096]
        full_length = draw(st.integers(MAX_JUDGED_BYTES + 1, 2**20))
        full_sha256 = hashlib.sha256(payload).hexdigest()
    return _record(draw, topic, key, payload, full_length, full_sha256)


def _has_card(payload: bytes | None) -> bool:
    try:
        return isinstance(json.loads(payload), dict) and isinstance(json.loads(payload).get("card_id"), str)
    except (TypeError, ValueError, RecursionError):
        return False


@hypothesis_settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(batch=st.lists(st.one_of(any_record(), valid_with_any_timestamp()), min_size=1, max_size=40))
def test_every_record_gets_one_verdict_and_nothing_raises(judge, batch):
    verdicts = run_batch(judge, batch)
    assert len(verdicts) == len(batch)
    for (topic, _, payload, full_length, _, partition, offset, kafka_ms), verdict in zip(batch, verdicts):
        assert verdict["status"] in ("scored", "confirmed", "rejected")
        assert (verdict["topic"], verdict["kafka_partition"], verdict["kafka_offset"]) == (topic, partition, offset)
        assert verdict["kafka_ms"] == kafka_ms
        if verdict["status"] == "rejected":
            # `unreadable` is the catch-all for what no check foresaw: each input here has a foreseen reason
            assert not verdict["reject_reason"].startswith("unreadable"), verdict["reject_reason"]
            letter = verdict["dead_letter_json"]
            assert len(letter.encode()) <= MAX_LETTER_BYTES and json.loads(letter)["reason"] == verdict["reject_reason"]
            assert verdict["payload"] == (None if full_length else payload)
            assert verdict["payload_length"] == (full_length or (None if payload is None else len(payload)))
        if full_length is not None:
            assert verdict["reject_reason"].startswith("too_large")
        if verdict["status"] == "scored":
            assert topic != FEEDBACK_TOPIC and full_length is None


def test_a_batch_of_the_largest_values_the_udf_is_handed_passes(judge):
    """The bound of the Python side: a whole bundle (2,000 records) of values of MAX_JUDGED_BYTES, the
    longest that reach it whole."""
    rows = [(TX_TOPIC, b"C000000001", b"\x01" * MAX_JUDGED_BYTES, None, None, 0, i, T0) for i in range(2000)]
    verdicts = run_batch(judge, rows)
    assert len(verdicts) == 2000
    assert {v["reject_reason"].split(":")[0] for v in verdicts} == {"malformed_json"}


def test_the_issue_records_get_their_reasons(judge):
    """The two records that once put the job into a restart loop."""
    rows = [
        (TX_TOPIC, b"C000000001", b'{"schema_version":1,"tx_id":"\xff\xfe"}', None, None, 0, 1, T0),
        (TX_TOPIC, b"C000000001", b"\x01" * 4096, 200_000, "ab" * 32, 0, 2, T0),
    ]
    reasons = [v["reject_reason"].split(":")[0] for v in run_batch(judge, rows)]
    assert reasons == ["invalid_encoding", "too_large"]


def test_valid_records_around_hostile_ones_are_scored_and_confirmed(judge):
    card = "C000000007"
    rows = [
        (TX_TOPIC, card.encode(), transaction("ok-1", card, T0, 12.0), None, None, 1, 10, T0),
        (TX_TOPIC, None, b"\xff\xfe\x00", None, None, 1, 11, -1),
        (FEEDBACK_TOPIC, b"x", encode_feedback(Feedback("f-1", card, "T1", T0 - 5000, T0)), None, None, 0, 3, T0),
        (TX_TOPIC, card.encode(), transaction("ok-2", card, T0 + 1000, 13.0), None, None, 1, 12, T0 + 1000),
    ]
    assert [v["status"] for v in run_batch(judge, rows)] == ["scored", "rejected", "confirmed", "scored"]


def test_each_batch_reaches_the_metrics(judge):
    """Dead letters by reason, replays apart from live traffic, the latency and score histograms."""
    metrics = judge.metrics
    before = {
        "invalid_encoding": metrics.dead_letters("invalid_encoding").count,
        "replayed": metrics.replayed.count,
        "live": metrics.detection_seconds.buckets[-1].count,
        "scores": metrics.score.buckets[-1].count,
        "batches": metrics.batches.count,
    }
    now_ms = int(time.time() * 1000)
    rows = [
        (TX_TOPIC, b"C000000900", transaction("live-1", "C000000900", now_ms, 20.0), None, None, 2, 1, now_ms),
        (TX_TOPIC, b"C000000901", transaction("old-1", "C000000901", T0, 20.0), None, None, 2, 2, T0),
        (TX_TOPIC, None, b"\xff\xfe\x00", None, None, 2, 3, now_ms),
    ]
    run_batch(judge, rows)
    assert metrics.dead_letters("invalid_encoding").count == before["invalid_encoding"] + 1
    assert metrics.replayed.count == before["replayed"] + 1  # scored months after its event time
    assert metrics.detection_seconds.buckets[-1].count == before["live"] + 1
    assert metrics.score.buckets[-1].count == before["scores"] + 2
    assert metrics.batches.count == before["batches"] + 1
