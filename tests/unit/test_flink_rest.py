"""include/flink_rest.py: one line saying why a task failed, from the stack trace Flink reports."""

from __future__ import annotations

from include.flink_rest import failure_summary

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
