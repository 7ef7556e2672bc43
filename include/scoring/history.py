"""A card's transaction history: what the scorer reads before a transaction and appends after it.

One DynamoDB item per card holds the recent entries (compressed), so a batch of transactions needs one
BatchGetItem key per card not yet cached and one BatchWriteItem put per card touched.

Replays must score exactly as the first run did, though DynamoDB already holds what the first run wrote
after the restore point. So `prior()` returns only entries that (1) come strictly before the transaction
in event time, ties broken by tx_id, and (2) had been read from Kafka before it: an entry from the same
partition with a higher offset arrived later and is left out (a card's records share one partition).
"""

from __future__ import annotations

import bisect
import json
import zlib
from typing import NamedTuple


class Entry(NamedTuple):
    event_ms: int
    tx_id: str
    amount: float
    terminal_id: str
    lat: float | None
    lon: float | None
    partition: int
    offset: int


class CardHistory:
    __slots__ = ("card_id", "entries", "_keys", "_by_tx")

    def __init__(self, card_id: str, entries: list[Entry] | None = None):
        self.card_id = card_id
        self.entries: list[Entry] = sorted(entries or [])
        self._keys = [(e.event_ms, e.tx_id) for e in self.entries]
        self._by_tx = {e.tx_id: e for e in self.entries}

    def __len__(self) -> int:
        return len(self.entries)

    def seen(self, tx_id: str) -> Entry | None:
        return self._by_tx.get(tx_id)

    def prior(self, event_ms: int, tx_id: str, partition: int, offset: int) -> list[Entry]:
        """Entries this transaction's score may use, oldest first (see module docstring)."""
        before = self.entries[:bisect.bisect_left(self._keys, (event_ms, tx_id))]
        if before and any(e.partition == partition and e.offset > offset for e in before):
            before = [e for e in before if not (e.partition == partition and e.offset > offset)]
        return before

    def add(self, entry: Entry, retention_ms: int, max_entries: int) -> None:
        """Appends an entry (idempotent per tx_id) and drops what is older than the retention."""
        if entry.tx_id in self._by_tx:
            return
        position = bisect.bisect_left(self._keys, (entry.event_ms, entry.tx_id))
        self.entries.insert(position, entry)
        self._keys.insert(position, (entry.event_ms, entry.tx_id))
        self._by_tx[entry.tx_id] = entry
        horizon = self.entries[-1].event_ms - retention_ms
        drop = max(bisect.bisect_left(self._keys, (horizon, "")), len(self.entries) - max_entries)
        if drop > 0:
            for old in self.entries[:drop]:
                del self._by_tx[old.tx_id]
            del self.entries[:drop]
            del self._keys[:drop]

    def encode(self) -> bytes:
        return zlib.compress(json.dumps([list(e) for e in self.entries], separators=(",", ":")).encode(), 6)

    @classmethod
    def decode(cls, card_id: str, blob: bytes | None) -> CardHistory:
        if not blob:
            return cls(card_id)
        return cls(card_id, [Entry(*row) for row in json.loads(zlib.decompress(blob))])
