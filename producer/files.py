"""Labelled transaction files the producer replays: the project's own format and the handbook's.

Project format: JSON lines (optionally .gz), one object per transaction with the message fields of
include/schemas/transaction.v1.json plus `is_fraud` and `fraud_pattern`. `producer simulate --out`
writes it; any file in this format can be replayed.

Handbook format: the Parquet files of the Fraud Detection Handbook (../shared/datasets/fraud-handbook/,
columns TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT, TX_FRAUD, TX_FRAUD_SCENARIO).
Transaction ids are kept; customers become cards C<id, 9 digits>, terminals T<id>.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from include.transactions import Rejected, Transaction, format_event_time, parse
from producer.labelled import Labelled

HANDBOOK_SCENARIOS = {1: "handbook_high_amount", 2: "handbook_compromised_terminal", 3: "handbook_leaked_card"}


def _open(path: Path, mode: str):
    return gzip.open(path, mode + "t") if path.suffix == ".gz" else open(path, mode)


def write_project(path: Path, items: Iterable[Labelled]) -> int:
    count = 0
    with _open(path, "w") as out:
        for item in items:
            tx = item.tx
            row = {
                "schema_version": 1,
                "tx_id": tx.tx_id,
                "card_id": tx.card_id,
                "terminal_id": tx.terminal_id,
                "merchant_category": tx.merchant_category,
                "channel": tx.channel,
                "amount": tx.amount,
                "currency": tx.currency,
                "event_time": format_event_time(tx.event_ms),
                "lat": tx.lat,
                "lon": tx.lon,
                "is_fraud": item.is_fraud,
                "fraud_pattern": item.fraud_pattern,
            }
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_project(path: Path) -> Iterator[Labelled]:
    with _open(path, "r") as lines:
        for number, line in enumerate(lines, 1):
            row = json.loads(line)
            is_fraud, pattern = bool(row.pop("is_fraud", False)), row.pop("fraud_pattern", None)
            try:
                tx = parse(json.dumps(row).encode())
            except Rejected as rejected:
                raise ValueError(f"{path}:{number}: not a valid transaction ({rejected.reason})") from None
            yield Labelled(tx, is_fraud, pattern)


def read_handbook(path: Path) -> Iterator[Labelled]:
    import pyarrow.parquet as pq

    table = pq.read_table(
        path,
        columns=[
            "TRANSACTION_ID",
            "TX_DATETIME",
            "CUSTOMER_ID",
            "TERMINAL_ID",
            "TX_AMOUNT",
            "TX_FRAUD",
            "TX_FRAUD_SCENARIO",
        ],
    )
    frame = table.to_pandas().sort_values(["TX_DATETIME", "TRANSACTION_ID"], kind="stable")
    event_ms = frame["TX_DATETIME"].astype("datetime64[ms]").astype("int64").tolist()
    for tx_id, ms, customer, terminal, amount, fraud, scenario in zip(
        frame["TRANSACTION_ID"].tolist(),
        event_ms,
        frame["CUSTOMER_ID"].tolist(),
        frame["TERMINAL_ID"].tolist(),
        frame["TX_AMOUNT"].tolist(),
        frame["TX_FRAUD"].tolist(),
        frame["TX_FRAUD_SCENARIO"].tolist(),
    ):
        tx = Transaction(str(tx_id), f"C{int(customer):09d}", f"T{int(terminal):06d}", float(amount), "EUR", int(ms))
        yield Labelled(tx, bool(fraud), HANDBOOK_SCENARIOS.get(int(scenario)) if fraud else None)


def read(path: Path, file_format: str) -> Iterator[Labelled]:
    if file_format == "handbook":
        return read_handbook(path)
    if file_format == "project":
        return read_project(path)
    raise ValueError(f"unknown format {file_format!r}: project or handbook")
