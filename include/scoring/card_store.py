"""Card histories in DynamoDB: one item per card, read with BatchGetItem (100 keys per request) and
written with BatchWriteItem (25 puts per request).

Throttling, unprocessed keys/items and connection errors are retried with capped exponential backoff
(full jitter); when the attempts are used up the call raises, the Flink task fails and restarts from
its last checkpoint. So a DynamoDB outage slows the job down and never loses a write. botocore's own
retries are off, so `requests` counts every HTTP request made.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TABLE_KEY = "card_id"
HISTORY_ATTRIBUTE = "history"
RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "LimitExceededException",
}
GET_BATCH, PUT_BATCH = 100, 25


class DynamoUnavailable(RuntimeError):
    pass


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def ensure_table(client, table: str) -> None:
    """Creates the card-history table if it does not exist (on-demand capacity)."""
    if table in client.list_tables()["TableNames"]:
        return
    try:
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": TABLE_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table)


class DynamoCardStore:
    def __init__(self, client, table: str, max_attempts: int = 10, base_delay_s: float = 0.05,
                 max_delay_s: float = 5.0, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.table = table
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep
        self.requests = 0
        self.retries = 0

    def _call(self, operation: Callable[..., dict], **kwargs) -> dict:
        for attempt in range(self.max_attempts):
            self.requests += 1
            try:
                return operation(**kwargs)
            except ClientError as error:
                if error.response["Error"]["Code"] not in RETRYABLE_CODES:
                    raise
                last = error
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
                last = error
            self._backoff(attempt)
        raise DynamoUnavailable(f"DynamoDB {operation.__name__} failed {self.max_attempts} times: {last}")

    def _backoff(self, attempt: int) -> None:
        self.retries += 1
        self.sleep(random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** attempt)))

    def load(self, card_ids: Iterable[str]) -> dict[str, bytes]:
        """History blobs of the cards that have one; cards never seen are absent from the result."""
        found: dict[str, bytes] = {}
        for chunk in _chunks(sorted(set(card_ids)), GET_BATCH):
            pending = {self.table: {"Keys": [{TABLE_KEY: {"S": c}} for c in chunk],
                                    "ProjectionExpression": f"{TABLE_KEY}, {HISTORY_ATTRIBUTE}"}}
            for attempt in range(self.max_attempts):
                response = self._call(self.client.batch_get_item, RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item[TABLE_KEY]["S"]] = item[HISTORY_ATTRIBUTE]["B"]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._backoff(attempt)
            else:
                raise DynamoUnavailable(f"BatchGetItem left keys unprocessed after {self.max_attempts} tries")
        return found

    def save(self, blobs: dict[str, bytes], updated_ms: int) -> None:
        """Writes every card's whole history item; idempotent, so a replayed batch writes the same."""
        puts = [{"PutRequest": {"Item": {TABLE_KEY: {"S": card}, HISTORY_ATTRIBUTE: {"B": blob},
                                         "updated_ms": {"N": str(updated_ms)}}}}
                for card, blob in sorted(blobs.items())]
        for chunk in _chunks(puts, PUT_BATCH):
            pending = {self.table: chunk}
            for attempt in range(self.max_attempts):
                response = self._call(self.client.batch_write_item, RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._backoff(attempt)
            else:
                raise DynamoUnavailable(f"BatchWriteItem left items unprocessed after {self.max_attempts} tries")
