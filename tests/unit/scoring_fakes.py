"""In-memory stand-ins for unit tests of the scoring logic (integration tests use real DynamoDB and S3)."""

from __future__ import annotations

import io
import shutil


class MemoryCardStore:
    """Same interface as DynamoCardStore; counts requests the way DynamoDB would be called."""

    def __init__(self):
        self.items: dict[str, bytes] = {}
        self.log: dict[int, dict[int, list]] = {}
        self.requests = 0
        self.retries = 0  # never refused
        self.throttles = 0

    def load(self, card_ids):
        card_ids = sorted(set(card_ids))
        self.requests += -(-len(card_ids) // 100)
        return {c: self.items[c] for c in card_ids if c in self.items}

    def save(self, blobs, updated_ms):
        self.requests += -(-len(blobs) // 25)
        self.items.update(blobs)

    def append_log(self, entries_by_partition):
        self.requests += 1
        keys = {}
        for partition, entries in entries_by_partition.items():
            seq = min(entry.offset for _, entry in entries)
            self.log.setdefault(partition, {})[seq] = list(entries)
            keys[partition] = [seq]
        return keys

    def read_log(self, partition):
        self.requests += 1
        return dict(self.log.get(partition, {}))

    def delete_log(self, partition, seqs):
        seqs = set(seqs)
        self.requests += -(-len(seqs) // 25)
        for seq in seqs:
            self.log.get(partition, {}).pop(seq, None)


class InMemoryS3:
    """The four calls model.py makes, over a dict (pure logic: no service involved)."""

    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}

    def upload_file(self, filename, bucket, key):
        with open(filename, "rb") as file:
            self.objects[bucket, key] = file.read()

    def download_file(self, bucket, key, filename):
        with open(filename, "wb") as file:
            shutil.copyfileobj(io.BytesIO(self.objects[bucket, key]), file)

    def put_object(self, Bucket, Key, Body):  # noqa: N803 (boto3's names)
        self.objects[Bucket, Key] = Body

    def get_object(self, Bucket, Key):  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Bucket, Key])}
