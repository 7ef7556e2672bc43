"""DynamoDB batching and retries (include/scoring/card_store.py) against a scripted fake client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from include.scoring.card_store import DynamoCardStore, DynamoUnavailable


def throttled():
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchWriteItem"
    )


class ScriptedClient:
    """Answers batch calls from a script of outcomes: an exception, or 'partial' (half unprocessed)."""

    def __init__(self, script):
        self.script = list(script)
        self.items = {}
        self.log = {}
        self.calls = []

    def _next(self):
        return self.script.pop(0) if self.script else "ok"

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        self.calls.append(("write", len(requests)))
        outcome = self._next()
        if isinstance(outcome, Exception):
            raise outcome
        done, left = (
            (requests[: len(requests) // 2], requests[len(requests) // 2 :]) if outcome == "partial" else (requests, [])
        )
        for r in done:
            if "DeleteRequest" in r:
                key = r["DeleteRequest"]["Key"]
                self.log.pop((key["log_partition"]["S"], int(key["first_offset"]["N"])), None)
                continue
            item = r["PutRequest"]["Item"]
            if table.endswith("_log"):
                self.log[(item["log_partition"]["S"], int(item["first_offset"]["N"]))] = item["entries"]["B"]
            else:
                self.items[item["card_id"]["S"]] = item["history"]["B"]
        return {"UnprocessedItems": {table: left} if left else {}}

    def query(self, TableName, KeyConditionExpression, ExpressionAttributeValues, ConsistentRead):
        self.calls.append(("query", 0))
        stream = ExpressionAttributeValues[":s"]["S"]
        return {
            "Items": [
                {"log_partition": {"S": s}, "first_offset": {"N": str(q)}, "entries": {"B": b}}
                for (s, q), b in sorted(self.log.items())
                if s == stream
            ]
        }

    def batch_get_item(self, RequestItems):
        ((table, request),) = RequestItems.items()
        self.calls.append(("get", len(request["Keys"])))
        outcome = self._next()
        if isinstance(outcome, Exception):
            raise outcome
        keys = [k["card_id"]["S"] for k in request["Keys"]]
        done, left = (keys[: len(keys) // 2], keys[len(keys) // 2 :]) if outcome == "partial" else (keys, [])
        found = [{"card_id": {"S": k}, "history": {"B": self.items[k]}} for k in done if k in self.items]
        unprocessed = {table: {**request, "Keys": [{"card_id": {"S": k}} for k in left]}} if left else {}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed}


def store(client, attempts=5):
    return DynamoCardStore(client, "cards", max_attempts=attempts, sleep=lambda s: None)


def test_log_items_use_their_own_table():
    assert store(ScriptedClient([])).log_table == "cards_log"


def test_writes_go_in_batches_of_25_and_reads_in_batches_of_100():
    client = ScriptedClient([])
    s = store(client)
    s.save({f"C{i:09d}": b"x" for i in range(60)}, updated_ms=1)
    assert [n for kind, n in client.calls] == [25, 25, 10]
    assert len(s.load([f"C{i:09d}" for i in range(250)])) == 60
    assert [n for kind, n in client.calls[3:]] == [100, 100, 50]


def test_throttling_connection_errors_and_unprocessed_items_are_retried_until_done():
    client = ScriptedClient([throttled(), EndpointConnectionError(endpoint_url="x"), "partial", "partial"])
    s = store(client)
    s.save({f"C{i:09d}": b"v" for i in range(20)}, updated_ms=1)
    assert len(client.items) == 20
    assert s.retries == 4 and s.requests == len(client.calls) == 5
    assert s.throttles == 3  # the throttling error and the two partial answers, not the connection error
    client.script = ["partial"]
    assert len(s.load(list(client.items))) == 20
    assert s.throttles == 4


def test_a_lasting_outage_raises_instead_of_dropping_writes():
    s = store(ScriptedClient([throttled()] * 10), attempts=3)
    with pytest.raises(DynamoUnavailable):
        s.save({"C000000001": b"v"}, updated_ms=1)


def test_other_errors_are_not_retried():
    error = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "BatchWriteItem")
    client = ScriptedClient([error])
    with pytest.raises(ClientError):
        store(client).save({"C000000001": b"v"}, updated_ms=1)
    assert len(client.calls) == 1


def test_the_log_is_written_per_partition_read_back_and_deleted():
    from include.scoring.history import Entry

    client = ScriptedClient([])
    s = store(client)
    entries = [(f"C{i % 3:09d}", Entry(1000 + i, f"t{i}", 1.5, "T1", None, None, 2, 40 + i)) for i in range(4500)]
    keys = s.append_log({2: entries, 0: entries[:10]})[2]
    assert keys == [40, 2040, 4040]  # items of at most 2,000 entries, keyed by first offset
    assert [kind for kind, _ in client.calls] == ["write"]  # both partitions in one request
    logged = s.read_log(2)
    assert sorted(logged) == keys and [e for k in keys for e in logged[k]] == entries
    assert s.read_log(1) == {}
    s.delete_log(2, keys)
    assert s.read_log(2) == {}


def test_a_log_item_never_exceeds_dynamodbs_item_limit_whatever_the_ids(monkeypatch):
    """Entries with ids of the schema's maximum length (64 random characters) and full-precision numbers:
    2,000 of them fit one item (~320 KB); a chunk that does not fit is split until each item does."""
    import random
    import string

    from include.scoring import card_store
    from include.scoring.card_store import LOG_ITEM_MAX_BYTES, decode_log, log_items
    from include.scoring.history import Entry

    rng = random.Random(5)

    def an_id() -> str:
        return "".join(rng.choices(string.ascii_letters + string.digits + "._:-", k=64))

    entries = [
        (
            f"C{rng.randrange(10**9):09d}",
            Entry(
                1_767_225_600_000 + i,
                an_id(),
                rng.uniform(0, 100_000),
                an_id(),
                rng.uniform(-90, 90),
                rng.uniform(-180, 180),
                2**31 - 1,
                2**62 + i,
            ),
        )
        for i in range(4_000)
    ]
    items = log_items(entries)
    assert len(items) == 2 and all(len(blob) <= LOG_ITEM_MAX_BYTES for _, blob in items)
    monkeypatch.setattr(card_store, "LOG_ITEM_MAX_BYTES", 100_000)
    items = log_items(entries)
    assert len(items) >= 8 and all(len(blob) <= 100_000 for _, blob in items)
    assert [entry for _, blob in items for entry in decode_log(blob)] == entries
    assert [seq for seq, _ in items] == [decode_log(blob)[0][1].offset for _, blob in items]
    assert log_items(entries) == items
