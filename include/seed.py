"""Seeding DynamoDB with card histories: from transactions (a file the caller reads), or rebuilt from the
Iceberg table.

Histories are written as compacted card items with batch writes (25 per request). Entries from a seed
carry no Kafka position (partition -1), so every later transaction counts them as earlier history.
Rerunning a seed rewrites the same items: safe. Entries the running job has logged but not compacted
yet stay in the log and are merged when the card is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from include import aws
from include.scoring import config as scoring_config
from include.scoring.card_store import DynamoCardStore, ensure_table
from include.scoring.history import CardHistory, Entry
from include.transactions import Transaction

SEEDED = -1  # partition and offset of entries that did not come from Kafka


def histories(rows: Iterable[tuple]) -> dict[str, CardHistory]:
    """Card histories from rows of (card_id, event_ms, tx_id, amount, terminal_id, lat, lon)."""
    config = scoring_config.load()
    cards: dict[str, CardHistory] = {}
    for card_id, event_ms, tx_id, amount, terminal_id, lat, lon in rows:
        history = cards.setdefault(card_id, CardHistory(card_id))
        history.add(
            Entry(int(event_ms), str(tx_id), float(amount), terminal_id, lat, lon, SEEDED, SEEDED),
            config.retention_ms,
            config.max_entries,
        )
    return cards


def from_transactions(transactions: Iterable[Transaction]) -> dict[str, CardHistory]:
    return histories(
        (tx.card_id, tx.event_ms, tx.tx_id, tx.amount, tx.terminal_id, tx.lat, tx.lon) for tx in transactions
    )


def from_iceberg(namespace: str) -> dict[str, CardHistory]:
    from include.lakehouse import iceberg_catalog

    frame = (
        iceberg_catalog()
        .load_table(f"{namespace}.scored_transactions")
        .scan(selected_fields=("card_id", "event_time", "tx_id", "amount", "terminal_id", "lat", "lon"))
        .to_pandas()
    )
    event_ms = frame["event_time"].astype("datetime64[ms, UTC]").astype("int64")
    lat = frame["lat"].astype(object).where(frame["lat"].notna(), None)
    lon = frame["lon"].astype(object).where(frame["lon"].notna(), None)
    return histories(
        zip(frame["card_id"], event_ms, frame["tx_id"], frame["amount"], frame["terminal_id"], lat, lon, strict=True)
    )


def write(table: str, cards: dict[str, CardHistory], log=print) -> dict:
    """Creates the tables if needed and writes every card item; returns counts for the task log."""
    client = aws.dynamodb_client(retries={"total_max_attempts": 1})
    ensure_table(client, table)
    store = DynamoCardStore(client, table)
    began = time.monotonic()
    cards = sorted(cards.items())
    for start in range(0, len(cards), 2_500):
        chunk = dict(cards[start : start + 2_500])
        store.save({card: history.encode() for card, history in chunk.items()}, int(time.time() * 1000))
        log(f"seeded {min(start + 2_500, len(cards)):,} of {len(cards):,} cards")
    return {
        "cards": len(cards),
        "entries": sum(len(h) for _, h in cards),
        "requests": store.requests,
        "seconds": round(time.monotonic() - began, 1),
    }
