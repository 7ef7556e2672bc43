"""A card's transaction history: what the scorer reads before a transaction and appends after it.

One DynamoDB item per card holds the recent entries (compressed); card_store.py describes how the
scorer reads and writes them.

Replays must score exactly as the first run did, though DynamoDB already holds what the first run wrote
after the restore point. So `prior()` returns only entries that (1) come strictly before the transaction
in event time, ties broken by tx_id, and (2) had been read from Kafka before it: an entry from the same
partition with a higher offset arrived later and is left out (a card's records share one partition).
Of those, at most `limit` (the newest) are used, fewer than a history keeps: the card's entries written
after a restore point cannot push out of the kept history an entry that a replayed transaction used.
"""

from __future__ import annotations

import bisect
import zlib
from typing import NamedTuple

import orjson

# zlib level 1 for history and log items, not the default 6: a full log item (2,000 entries) compresses
# about three times faster and comes out less than a tenth larger (the random tx ids barely compress).
COMPRESSION_LEVEL = 1
# What a history costs in the scorer's memory, as an upper bound (CardHistory.approx_bytes): the objects
# of one entry (the tuple, its two id strings, its numbers, its place in the six columns and the tx_id
# index) take ~610 bytes for ids of the schema's maximum length (64 characters), the history itself
# ~1.5 KB. tests/unit/test_history.py checks the bound against tracemalloc.
HISTORY_BYTES, ENTRY_BYTES = 2_048, 640


class Entry(NamedTuple):
    event_ms: int
    tx_id: str
    amount: float
    terminal_id: str
    lat: float | None
    lon: float | None
    partition: int
    offset: int


class Prior(NamedTuple):
    """The history one transaction may use, oldest first, as columns: features find window bounds by
    bisecting `times` and sum slices of `amounts` instead of looping over entries in Python."""

    times: list[int]
    amounts: list[float]
    terminals: list[str]
    tx_ids: list[str]
    last: Entry | None

    @classmethod
    def of(cls, entries: list[Entry]) -> Prior:
        """From entries sorted by (event_ms, tx_id)."""
        return cls(
            [e.event_ms for e in entries],
            [e.amount for e in entries],
            [e.terminal_id for e in entries],
            [e.tx_id for e in entries],
            entries[-1] if entries else None,
        )


class CardHistory:
    __slots__ = ("card_id", "entries", "_keys", "_by_tx", "_times", "_amounts", "_terminals", "_tx_ids", "_max_offset")

    def __init__(self, card_id: str, entries: list[Entry] | None = None):
        self.card_id = card_id
        self.entries: list[Entry] = sorted(entries or [])
        self._keys = [(e.event_ms, e.tx_id) for e in self.entries]
        self._by_tx = {e.tx_id: e for e in self.entries}
        # Columns of `entries`, kept in step with it, so prior() hands out slices.
        self._times = [e.event_ms for e in self.entries]
        self._amounts = [e.amount for e in self.entries]
        self._terminals = [e.terminal_id for e in self.entries]
        self._tx_ids = [e.tx_id for e in self.entries]
        # Highest offset seen per partition (never lowered when entries expire: only a hint that lets
        # prior() skip looking for entries read after the transaction, the replay-only case).
        self._max_offset: dict[int, int] = {}
        for e in self.entries:
            self._note_offset(e)

    def _note_offset(self, entry: Entry) -> None:
        if entry.offset > self._max_offset.get(entry.partition, -1):
            self._max_offset[entry.partition] = entry.offset

    def __len__(self) -> int:
        return len(self.entries)

    def seen(self, tx_id: str) -> Entry | None:
        return self._by_tx.get(tx_id)

    def approx_bytes(self) -> int:
        """An upper bound of the memory this history holds (see ENTRY_BYTES)."""
        return HISTORY_BYTES + ENTRY_BYTES * len(self.entries)

    def newest_read_before(self, partition: int, offset: int) -> int | None:
        """Event time of the newest entry read from Kafka before the record at (partition, offset), or
        None. Entries read after it (present when a replay finds what the first run stored) do not count,
        so a replay sees the same value as the first run."""
        if self._max_offset.get(partition, -1) < offset:
            return self.entries[-1].event_ms if self.entries else None
        for entry in reversed(self.entries):
            if entry.partition != partition or entry.offset < offset:
                return entry.event_ms
        return None

    def prior(self, event_ms: int, tx_id: str, partition: int, offset: int, limit: int) -> Prior:
        """The history this transaction's score may use: at most `limit` entries (module docstring)."""
        end = bisect.bisect_left(self._keys, (event_ms, tx_id))
        if self._max_offset.get(partition, -1) > offset:
            before = self.entries[:end]
            if any(e.partition == partition and e.offset > offset for e in before):
                read_before = [e for e in before if not (e.partition == partition and e.offset > offset)]
                return Prior.of(read_before[max(0, len(read_before) - limit) :])
        start = max(0, end - limit)
        return Prior(
            self._times[start:end],
            self._amounts[start:end],
            self._terminals[start:end],
            self._tx_ids[start:end],
            self.entries[end - 1] if end else None,
        )

    def add(self, entry: Entry, retention_ms: int, max_entries: int) -> None:
        """Appends an entry (idempotent per tx_id) and drops what is older than the retention."""
        if entry.tx_id in self._by_tx:
            return
        position = bisect.bisect_left(self._keys, (entry.event_ms, entry.tx_id))
        for column, value in (
            (self.entries, entry),
            (self._keys, (entry.event_ms, entry.tx_id)),
            (self._times, entry.event_ms),
            (self._amounts, entry.amount),
            (self._terminals, entry.terminal_id),
            (self._tx_ids, entry.tx_id),
        ):
            column.insert(position, value)
        self._by_tx[entry.tx_id] = entry
        self._note_offset(entry)
        horizon = self.entries[-1].event_ms - retention_ms
        drop = max(bisect.bisect_left(self._keys, (horizon, "")), len(self.entries) - max_entries)
        if drop > 0:
            for old in self.entries[:drop]:
                del self._by_tx[old.tx_id]
            for column in (self.entries, self._keys, self._times, self._amounts, self._terminals, self._tx_ids):
                del column[:drop]

    def encode(self) -> bytes:
        return zlib.compress(orjson.dumps([tuple(e) for e in self.entries]), COMPRESSION_LEVEL)

    @classmethod
    def decode(cls, card_id: str, blob: bytes | None) -> CardHistory:
        if not blob:
            return cls(card_id)
        return cls(card_id, [Entry(*row) for row in orjson.loads(zlib.decompress(blob))])
