"""JSON lines for the platform's own logs: the scoring UDF, the producer, the DAG helpers.

One object per record: `ts` (UTC, milliseconds), `level`, `logger`, `component` (what wrote it:
`scoring-udf`, `producer`, ...), `message`; `deployment` (the scoring job or producer run it belongs to)
when known; context passed as `extra=` (`tx_id` and the other CONTEXT_FIELDS) when there is one; `error`
with the traceback of an exception. A log shipper reads the fields without parsing prose. `print` stays
for progress a person watches.

Airflow 3 writes task logs as JSON lines itself (structlog) but drops `extra=`: the DAG helpers log
through structlog, with the deployment and job as keyword fields, and need nothing from here.
"""

from __future__ import annotations

import json
import logging
import sys
import time

CONTEXT_FIELDS = ("deployment", "tx_id", "card_id", "job_id", "topic", "partition", "offset", "reason")


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str, deployment: str | None = None):
        super().__init__()
        self.component = component
        self.deployment = deployment

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "component": self.component,
            "message": record.getMessage(),
        }
        if self.deployment:
            document["deployment"] = self.deployment
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def use_json(component: str, deployment: str | None = None, logger: logging.Logger | None = None) -> None:
    """Formats every handler of `logger` (the root logger by default) as JSON lines, adding one on stderr
    when it has none; INFO and above."""
    logger = logger or logging.getLogger()
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler(sys.stderr))
    formatter = JsonFormatter(component, deployment)
    for handler in logger.handlers:
        handler.setFormatter(formatter)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
