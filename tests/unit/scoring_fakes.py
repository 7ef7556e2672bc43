"""In-memory stand-ins for unit tests of the scoring logic (integration tests use real DynamoDB)."""

from __future__ import annotations


class MemoryCardStore:
    """Same interface as DynamoCardStore; counts requests the way DynamoDB would be called."""

    def __init__(self):
        self.items: dict[str, bytes] = {}
        self.log: dict[int, dict[int, list]] = {}
        self.requests = 0

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
