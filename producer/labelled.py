"""A transaction with its ground-truth label. The label stays with the producer: only the transaction
goes to credit_card_transactions; frauds are confirmed later on fraud_feedback."""

from __future__ import annotations

from typing import NamedTuple

from include.transactions import Transaction


class Labelled(NamedTuple):
    tx: Transaction
    is_fraud: bool
    fraud_pattern: str | None
