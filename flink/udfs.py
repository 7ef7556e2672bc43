"""The scoring UDF: a vectorized (pandas) Python function over raw Kafka records of both input topics.

Registered in flink/sql/scoring/4_function.sql as `judge_records`. It gives one verdict per record
(include/scoring/verdicts.py): a scored transaction, a confirmed fraud, or a rejected record with its
reason; whatever the bytes, never an exception. It is declared non-deterministic (it writes card
histories to DynamoDB), which also keeps the planner from copying the call into each sink's branch: the
job evaluates it once per record, and every sink reads the one result.

The judging itself lives in include/scoring (plain Python, unit tested); this module only adapts
Arrow batches to it; flink/udf_metrics.py exposes what each batch reports.
"""

from __future__ import annotations

import gc
import logging
import math
import time

import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from flink.udf_metrics import UdfMetrics
from include import aws, json_logs
from include.scoring import batch_report
from include.scoring import model as model_store
from include.scoring import runtime as worker_runtime
from include.scoring.scorer import BatchScorer, Result, SourceRecord
from include.scoring.verdict_layout import output_arrays
from include.scoring.verdicts import judged

log = logging.getLogger(__name__)

# The result: three arrays, one element per field (include/scoring/verdict_layout.py), and the exact
# bytes of a rejected record; the SQL view names them.
OUTPUT_TYPE = DataTypes.ROW(
    [
        DataTypes.FIELD("strings", DataTypes.ARRAY(DataTypes.STRING())),
        DataTypes.FIELD("doubles", DataTypes.ARRAY(DataTypes.DOUBLE())),
        DataTypes.FIELD("bigints", DataTypes.ARRAY(DataTypes.BIGINT())),
        DataTypes.FIELD("payload", DataTypes.BYTES()),
    ]
)


def to_frame(results: list[Result], model_version: str, config_version: int) -> pd.DataFrame:
    """One row per result: the columns of OUTPUT_TYPE."""
    rows = [output_arrays(r, model_version, config_version) for r in results]
    strings, doubles, bigints, payloads = zip(*rows) if rows else ((), (), (), ())
    # Object series: pandas would otherwise look into the lists.
    return pd.DataFrame(
        {
            "strings": pd.Series(strings, dtype=object),
            "doubles": pd.Series(doubles, dtype=object),
            "bigints": pd.Series(bigints, dtype=object),
            "payload": pd.Series(payloads, dtype=object),
        }
    )


def _optional_int(value) -> int | None:
    """A nullable BIGINT as pandas hands it over: NaN (float) for NULL."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def source_records(
    topic: pd.Series,
    key: pd.Series,
    payload: pd.Series,
    full_length: pd.Series,
    full_sha256: pd.Series,
    partition: pd.Series,
    offset: pd.Series,
    kafka_ts: pd.Series,
) -> list[SourceRecord]:
    # Arrow hands timestamps to pandas in their own unit (milliseconds here, as pyarrow >= 13 keeps
    # it; nanoseconds with older ones): name the unit rather than assume one.
    kafka_ms = kafka_ts.dt.as_unit("ms").astype("int64").tolist()
    return [
        SourceRecord(p, int(part), int(off), ms, t, k, _optional_int(n), s)
        for t, k, p, n, s, part, off, ms in zip(
            topic.tolist(),
            key.tolist(),
            payload.tolist(),
            full_length.tolist(),
            full_sha256.tolist(),
            partition.tolist(),
            offset.tolist(),
            kafka_ms,
        )
    ]


class JudgeRecords(ScalarFunction):
    def open(self, function_context: FunctionContext) -> None:
        self.config, runtime = worker_runtime.decode(function_context.get_job_parameter)
        # The worker's log handler forwards to the TaskManager's log: each line's message is one JSON object.
        json_logs.use_json("scoring-udf", deployment=runtime.get("job_name"))
        self.store = worker_runtime.card_store(runtime)
        self.feedback, self.feed = worker_runtime.feedback_side_input(runtime, self.config)
        model = (
            model_store.load(self.config.model_uri, aws.s3_client(), self.config.model_sha256)
            if self.config.model_uri
            else None
        )
        self.scorer = BatchScorer(
            self.config, self.store, self.feedback, model, cache_bytes=runtime["card_cache_bytes"]
        )
        self.feedback_topic = runtime["feedback_topic"]

        self.metrics = UdfMetrics(
            function_context.get_metric_group(), self.store, lambda: len(self.feedback), self.scorer.cache
        )
        log.info(
            "judging UDF ready: config v%s, model %s, %d confirmed frauds (%d from a snapshot), card cache %d MiB",
            self.config.version,
            self.scorer.model_version,
            len(self.feedback),
            self.feed.restored,
            runtime["card_cache_bytes"] >> 20,
        )

    def eval(
        self,
        topic: pd.Series,
        key: pd.Series,
        payload: pd.Series,
        full_length: pd.Series,
        full_sha256: pd.Series,
        partition: pd.Series,
        offset: pd.Series,
        kafka_ts: pd.Series,
    ) -> pd.DataFrame:
        started = time.perf_counter()
        feedback_read = self.feed.catch_up()
        caught_up = time.perf_counter()
        records = source_records(topic, key, payload, full_length, full_sha256, partition, offset, kafka_ts)
        with judged(self.scorer, records, self.feedback_topic) as verdicts:  # the end waits for the history write
            frame = to_frame(verdicts, self.scorer.model_version, self.config.version)
        self.metrics.record(
            batch_report.report(verdicts),
            seconds=time.perf_counter() - started,
            feedback_read=feedback_read,
            feedback_catch_up_ms=round((caught_up - started) * 1000),
        )
        # What survived the batch (card histories, mostly) leaves the garbage collector's view: a full
        # collection over the whole cache would stall scoring for tenths of a second. Those objects
        # hold no reference cycles; reference counting still frees them.
        gc.freeze()
        return frame

    def close(self) -> None:
        self.scorer.close()
        self.feed.close()

    def is_deterministic(self) -> bool:
        return False  # it writes card histories; see the module docstring


judge_records = udf(JudgeRecords(), result_type=OUTPUT_TYPE, func_type="pandas")
