"""include/flink_rest.py: one line saying why a task failed, from the stack trace Flink reports."""

from __future__ import annotations

from include.flink_rest import FlinkRest, failure_summary

# The shape of a Python UDF failure as Flink 2.0 reports it (trimmed): Java exceptions wrapping the Python
# worker's traceback, which chains two Python exceptions and is repeated under a second "Caused by".
PYTHON_FAILURE = """\
java.io.IOException: Failed to deserialize consumer record due to
\tat org.apache.flink.connector.kafka.source.reader.KafkaRecordEmitter.emitRecord(KafkaRecordEmitter.java:56)
Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Traceback (most recent call last):
  File "/repo/include/scoring/card_store.py", line 126, in _call
    return operation(**kwargs)
botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:8000/"

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/repo/flink/udfs.py", line 101, in eval
    raise DynamoUnavailable(f"DynamoDB {operation.__name__} failed {self.max_attempts} times: {last}")
include.scoring.card_store.DynamoUnavailable: DynamoDB batch_get_item failed 10 times: Could not connect

\tat org.apache.beam.runners.fnexecution.control.FnApiControlClient$ResponseStreamObserver.onNext(FnApiControlClient.java:180)
Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Traceback (most recent call last):
  File "/repo/include/scoring/card_store.py", line 126, in _call
botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:8000/"
"""


def test_a_python_failure_is_summarized_by_the_error_the_python_code_raised():
    assert failure_summary(PYTHON_FAILURE) == (
        "include.scoring.card_store.DynamoUnavailable: DynamoDB batch_get_item failed 10 times: Could not connect"
    )


def test_a_java_failure_is_summarized_by_its_first_line():
    trace = "org.apache.flink.util.FlinkException: The TaskExecutor is shutting down.\n\tat org.apache.Foo.bar()"
    assert failure_summary(trace) == "org.apache.flink.util.FlinkException: The TaskExecutor is shutting down."
    assert failure_summary("") == ""


class ScriptedRest(FlinkRest):
    """The REST answers of a job whose Python operator has plain, labelled and histogram metrics."""

    def __init__(self):
        super().__init__("http://flink.invalid")
        self.asked: list[str] = []

    def _get(self, path: str):
        self.asked.append(path)
        if path == "/jobs/j1":
            return {"vertices": [{"id": "v0", "name": "Source: kafka"}, {"id": "v1", "name": "PythonCalc[3]"}]}
        if path == "/jobs/j1/vertices/v1/metrics":
            ids = ["fraud.records_scored", "fraud.card_cache_bytes", "fraud.reason.too_old.dead_letters"]
            ids += ["fraud.detection_seconds.le.0.25.bucket", "fraud.detection_seconds.le.+Inf.bucket", "numRecordsIn"]
            return [{"id": f"{subtask}.PythonCalc[3].{name}"} for subtask in (0, 1) for name in ids]
        names = path.split("get=", 1)[1].split("&", 1)[0].split(",")
        return [{"id": name, "sum": 2.0} for name in names]


def test_udf_metrics_asks_for_the_groups_own_metrics_only():
    """Histogram buckets and per-reason counters (about 80 names) stay out of the one request: their
    names would overflow it, and Prometheus has them."""
    rest = ScriptedRest()
    assert rest.udf_metrics("j1") == {"card_cache_bytes": 2.0, "records_scored": 2.0}
    assert "bucket" not in rest.asked[-1] and "dead_letters" not in rest.asked[-1]
