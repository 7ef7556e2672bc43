"""In-memory stand-ins for unit tests of the scoring logic (integration tests use real DynamoDB)."""

from __future__ import annotations


class MemoryCardStore:
    """Same interface as DynamoCardStore; counts calls the way DynamoDB requests would be counted."""

    def __init__(self):
        self.items: dict[str, bytes] = {}
        self.requests = 0

    def load(self, card_ids):
        card_ids = sorted(set(card_ids))
        self.requests += -(-len(card_ids) // 100)
        return {c: self.items[c] for c in card_ids if c in self.items}

    def save(self, blobs, updated_ms):
        self.requests += -(-len(blobs) // 25)
        self.items.update(blobs)
