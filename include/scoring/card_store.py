"""Card histories in DynamoDB, written as a log and compacted per card.

Writing each card's history item for every transaction costs one item write per transaction: that caps
the job at what DynamoDB accepts (about 1,300 item writes/s from dynalite here) and, on AWS, costs one
multi-KB write per transaction. So the scorer writes in two steps:

  log   one item per Kafka partition per batch holds the batch's new history entries (key `p<N>`,
        sorted by the batch's first offset). Written before the batch's results are returned, so all
        a checkpoint covers is durable: one BatchWriteItem request per batch (up to 25 partitions).
  cards one item per card holds its compacted history. The scorer compacts a partition's log now and
        then: it writes the item of every card the log touched (one put per card, however many of its
        transactions the log holds) and then deletes those log items.

A card's history is its card item plus its entries in the log of its partition (a card's records all
come from one partition, so one scorer instance owns both). Reads use BatchGetItem (100 keys per
request); writes BatchWriteItem (25 per request). Throttling, unprocessed items and connection errors
are retried with capped exponential backoff (full jitter); when the attempts are used up the call
raises, the Flink task fails and restarts from its last checkpoint: a DynamoDB outage slows the job,
it never loses a write. botocore's own retries are off, so `requests` counts every HTTP request;
`retries` counts the waits before another try, `throttles` the answers that refused for capacity (a
throttling error, or items/keys left unprocessed).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable

import orjson
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from include.scoring.history import COMPRESSION_LEVEL, Entry

TABLE_KEY = "card_id"
HISTORY_ATTRIBUTE = "history"
LOG_STREAM, LOG_SEQ, LOG_ENTRIES = "log_partition", "first_offset", "entries"
# Refusals for capacity: counted as throttles (an operator raises capacity); the rest of RETRYABLE_CODES
# are the service's own faults.
THROTTLING_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
RETRYABLE_CODES = THROTTLING_CODES | {
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
}
GET_BATCH, PUT_BATCH = 100, 25
# A log item holds at most this many entries (~112 KiB compressed for the simulator's ids, ~320 KB for ids
# of the schema's maximum length) and this many bytes: DynamoDB refuses items over 400 KB (log_items
# splits a chunk that would not fit).
LOG_ITEM_ENTRIES = 2_000
LOG_ITEM_MAX_BYTES = 350_000


class DynamoUnavailable(RuntimeError):
    pass


def log_table_name(card_table: str) -> str:
    return f"{card_table}_log"


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _create(client, table: str, key_schema: list[dict], attributes: list[dict]) -> None:
    try:
        client.create_table(
            TableName=table, KeySchema=key_schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table)


def ensure_table(client, table: str) -> None:
    """Creates the card table and its log table if they do not exist (on-demand capacity)."""
    existing = set(client.list_tables()["TableNames"])
    if table not in existing:
        _create(
            client,
            table,
            [{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
            [{"AttributeName": TABLE_KEY, "AttributeType": "S"}],
        )
    if log_table_name(table) not in existing:
        _create(
            client,
            log_table_name(table),
            [{"AttributeName": LOG_STREAM, "KeyType": "HASH"}, {"AttributeName": LOG_SEQ, "KeyType": "RANGE"}],
            [{"AttributeName": LOG_STREAM, "AttributeType": "S"}, {"AttributeName": LOG_SEQ, "AttributeType": "N"}],
        )


def drop_tables(client, table: str) -> None:
    existing = set(client.list_tables()["TableNames"])
    for name in (table, log_table_name(table)):
        if name in existing:
            client.delete_table(TableName=name)


def encode_log(entries: list[tuple[str, Entry]]) -> bytes:
    return zlib.compress(orjson.dumps([[card, *entry] for card, entry in entries]), COMPRESSION_LEVEL)


def log_items(entries: list[tuple[str, Entry]]) -> list[tuple[int, bytes]]:
    """Entries sorted by offset, as (first offset, encoded) items of at most LOG_ITEM_ENTRIES entries and
    LOG_ITEM_MAX_BYTES bytes. The same entries always give the same items (a replay writes the same keys)."""
    items: list[tuple[int, bytes]] = []
    pending = list(_chunks(entries, LOG_ITEM_ENTRIES))
    while pending:
        chunk = pending.pop(0)
        blob = encode_log(chunk)
        if len(blob) > LOG_ITEM_MAX_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
        else:
            items.append((chunk[0][1].offset, blob))
    return items


def decode_log(blob: bytes) -> list[tuple[str, Entry]]:
    return [(row[0], Entry(*row[1:])) for row in orjson.loads(zlib.decompress(blob))]


class DynamoCardStore:
    def __init__(
        self,
        client,
        table: str,
        max_attempts: int = 10,
        base_delay_s: float = 0.05,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.table = table
        self.log_table = log_table_name(table)
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.throttles = 0
        self._counting = threading.Lock()  # the scorer's compactor calls from another thread

    def _call(self, operation: Callable[..., dict], **kwargs) -> dict:
        for attempt in range(self.max_attempts):
            with self._counting:
                self.requests += 1
            try:
                return operation(**kwargs)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code not in RETRYABLE_CODES:
                    raise
                if code in THROTTLING_CODES:
                    self._count_throttle()
                last = error
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
                last = error
            self._backoff(attempt)
        raise DynamoUnavailable(f"DynamoDB {operation.__name__} failed {self.max_attempts} times: {last}")

    def _count_throttle(self) -> None:
        with self._counting:
            self.throttles += 1

    def _backoff(self, attempt: int) -> None:
        with self._counting:
            self.retries += 1
        self.sleep(random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt)))

    def _batch_write(self, table: str, requests: list[dict]) -> None:
        for chunk in _chunks(requests, PUT_BATCH):
            pending = {table: chunk}
            for attempt in range(self.max_attempts):
                response = self._call(self.client.batch_write_item, RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._count_throttle()
                self._backoff(attempt)
            else:
                raise DynamoUnavailable(f"BatchWriteItem left items unprocessed after {self.max_attempts} tries")

    # --- card items ---------------------------------------------------------------------------------

    def load(self, card_ids: Iterable[str]) -> dict[str, bytes]:
        """Compacted history blobs of the cards that have one; cards never compacted are absent."""
        found: dict[str, bytes] = {}
        for chunk in _chunks(sorted(set(card_ids)), GET_BATCH):
            pending = {
                self.table: {
                    "Keys": [{TABLE_KEY: {"S": c}} for c in chunk],
                    "ProjectionExpression": f"{TABLE_KEY}, {HISTORY_ATTRIBUTE}",
                }
            }
            for attempt in range(self.max_attempts):
                response = self._call(self.client.batch_get_item, RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item[TABLE_KEY]["S"]] = item[HISTORY_ATTRIBUTE]["B"]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._count_throttle()
                self._backoff(attempt)
            else:
                raise DynamoUnavailable(f"BatchGetItem left keys unprocessed after {self.max_attempts} tries")
        return found

    def save(self, blobs: dict[str, bytes], updated_ms: int) -> None:
        """Writes whole card items; idempotent, so writing the same history twice changes nothing."""
        self._batch_write(
            self.table,
            [
                {
                    "PutRequest": {
                        "Item": {
                            TABLE_KEY: {"S": card},
                            HISTORY_ATTRIBUTE: {"B": blob},
                            "updated_ms": {"N": str(updated_ms)},
                        }
                    }
                }
                for card, blob in sorted(blobs.items())
            ],
        )

    # --- the log ------------------------------------------------------------------------------------

    def append_log(self, entries_by_partition: dict[int, list[tuple[str, Entry]]]) -> dict[int, list[int]]:
        """Writes new entries as log items, one or more per partition, keyed by their first offset, in
        as few requests as possible; returns each partition's new keys. A replayed batch writes the
        same keys again (the same records have the same offsets)."""
        keys: dict[int, list[int]] = {}
        requests = []
        for partition, entries in sorted(entries_by_partition.items()):
            for seq, blob in log_items(sorted(entries, key=lambda item: item[1].offset)):
                keys.setdefault(partition, []).append(seq)
                requests.append(
                    {
                        "PutRequest": {
                            "Item": {
                                LOG_STREAM: {"S": f"p{partition}"},
                                LOG_SEQ: {"N": str(seq)},
                                LOG_ENTRIES: {"B": blob},
                            }
                        }
                    }
                )
        self._batch_write(self.log_table, requests)
        return keys

    def read_log(self, partition: int) -> dict[int, list[tuple[str, Entry]]]:
        """Every log item of a partition not compacted yet: first offset -> entries."""
        items: dict[int, list[tuple[str, Entry]]] = {}
        kwargs = {
            "TableName": self.log_table,
            "KeyConditionExpression": f"{LOG_STREAM} = :s",
            "ExpressionAttributeValues": {":s": {"S": f"p{partition}"}},
            "ConsistentRead": True,
        }
        while True:
            response = self._call(self.client.query, **kwargs)
            for item in response.get("Items", []):
                items[int(item[LOG_SEQ]["N"])] = decode_log(item[LOG_ENTRIES]["B"])
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_log(self, partition: int, seqs: Iterable[int]) -> None:
        self._batch_write(
            self.log_table,
            [
                {"DeleteRequest": {"Key": {LOG_STREAM: {"S": f"p{partition}"}, LOG_SEQ: {"N": str(seq)}}}}
                for seq in sorted(set(seqs))
            ],
        )
