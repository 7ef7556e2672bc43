"""The platform's JSON log lines (include/json_logs.py)."""

from __future__ import annotations

import io
import json
import logging

from include import json_logs


def _logger(stream: io.StringIO, component: str = "scoring-udf", deployment: str | None = "fraud-scoring"):
    logger = logging.getLogger(f"test-json-logs-{component}")
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    json_logs.use_json(component, deployment, logger=logger)
    return logger


def test_each_record_is_one_json_object_with_its_context():
    stream = io.StringIO()
    _logger(stream).warning("odd amount %s", "1e12", extra={"tx_id": "tx-1", "partition": 3, "offset": 42})
    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document["message"] == "odd amount 1e12" and document["level"] == "WARNING"
    assert (document["component"], document["deployment"]) == ("scoring-udf", "fraud-scoring")
    assert (document["tx_id"], document["partition"], document["offset"]) == ("tx-1", 3, 42)
    assert document["ts"].endswith("Z") and len(document["ts"]) == len("2026-12-07T23:59:59.123Z")


def test_an_exception_stays_on_its_one_line_and_a_message_is_escaped():
    stream = io.StringIO()
    logger = _logger(stream, deployment=None)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception('quote " and newline\n in the message')
    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    assert "deployment" not in document and "ValueError: bad" in document["error"]
    assert document["message"] == 'quote " and newline\n in the message'


def test_a_deployment_given_per_record_wins_over_none():
    stream = io.StringIO()
    _logger(stream, component="airflow", deployment=None).info("restarted", extra={"deployment": "fraud-scoring"})
    assert json.loads(stream.getvalue())["deployment"] == "fraud-scoring"


def test_a_logger_without_a_handler_gets_one():
    logger = logging.getLogger("test-json-logs-bare")
    logger.handlers = []
    json_logs.use_json("producer", logger=logger)
    assert len(logger.handlers) == 1 and isinstance(logger.handlers[0].formatter, json_logs.JsonFormatter)
    assert logger.level == logging.INFO
