"""Scores a batch of raw Kafka records: validate, read card histories, compute features, score, write
the histories back. The Flink UDF (flink/udfs.py) calls `score_batch` once per Arrow batch; nothing here
depends on Flink, so tests and the benchmark run it directly.

Per batch: one BatchGetItem per 100 cards not yet cached, one BatchWriteItem per 25 cards touched,
both finished before the batch's results are returned, so everything a checkpoint covers is in DynamoDB.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from include.scoring import features as feature_calc
from include.scoring import rules as rule_engine
from include.scoring.card_store import DynamoCardStore
from include.scoring.config import ScoringConfig
from include.scoring.feedback import FeedbackIndex
from include.scoring.history import CardHistory, Entry
from include.scoring.model import Model
from include.transactions import Rejected, Transaction, format_event_time, parse

ALERT, PASS = "ALERT", "PASS"
SCORED, REJECTED = "scored", "rejected"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    payload: str | None
    partition: int
    offset: int
    kafka_ms: int
    topic: str = ""


@dataclass
class Result:
    status: str
    record: SourceRecord
    tx: Transaction | None = None
    features: dict = field(default_factory=dict)
    score: float | None = None
    rule_score: float | None = None
    decision: str | None = None
    reasons: list[dict] = field(default_factory=list)
    reject_reason: str | None = None
    scored_ms: int = 0

    def alert_json(self, model_version: str, config_version: int) -> str | None:
        if self.decision != ALERT:
            return None
        tx = self.tx
        return json.dumps({
            "tx_id": tx.tx_id, "card_id": tx.card_id, "terminal_id": tx.terminal_id,
            "amount": tx.amount, "currency": tx.currency, "event_time": format_event_time(tx.event_ms),
            "score": round(self.score, 6), "decision": self.decision, "reasons": self.reasons,
            "model_version": model_version, "config_version": config_version,
            "detected_at": format_event_time(self.scored_ms),
        }, separators=(",", ":"))

    def dead_letter_json(self) -> str | None:
        if self.status != REJECTED:
            return None
        r = self.record
        return json.dumps({
            "reason": self.reject_reason, "topic": r.topic, "partition": r.partition, "offset": r.offset,
            "kafka_timestamp": format_event_time(r.kafka_ms), "payload": r.payload,
            "detected_at": format_event_time(self.scored_ms),
        }, separators=(",", ":"))


class LruCache(OrderedDict):
    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class BatchScorer:
    def __init__(self, config: ScoringConfig, store: DynamoCardStore, feedback: FeedbackIndex,
                 model: Model | None = None, cache_cards: int = 200_000):
        self.config = config
        self.store = store
        self.feedback = feedback
        self.model = model
        self.cache: LruCache = LruCache(cache_cards)

    @property
    def model_version(self) -> str:
        return self.model.version if self.model else f"rules-v{self.config.version}"

    def _histories(self, card_ids: set[str]) -> None:
        missing = [c for c in card_ids if c not in self.cache]
        if missing:
            blobs = self.store.load(missing)
            for card in missing:
                self.cache.put(card, CardHistory.decode(card, blobs.get(card)))
        for card in card_ids:
            self.cache.move_to_end(card)

    def score_batch(self, records: list[SourceRecord]) -> list[Result]:
        now_ms = int(time.time() * 1000)
        results: list[Result] = []
        for record in records:
            try:
                results.append(Result(SCORED, record, tx=parse(record.payload)))
            except Rejected as rejected:
                results.append(Result(REJECTED, record, reject_reason=rejected.reason))
        valid = [r for r in results if r.status == SCORED]
        self._histories({r.tx.card_id for r in valid})

        touched: set[str] = set()
        for result in valid:
            tx, record = result.tx, result.record
            history = self.cache[tx.card_id]
            first = history.seen(tx.tx_id)
            if first is not None and (first.partition, first.offset) != (record.partition, record.offset):
                result.status = REJECTED
                result.reject_reason = (f"duplicate_tx_id: {tx.tx_id} first read at partition "
                                        f"{first.partition} offset {first.offset}")
                continue
            prior = history.prior(tx.event_ms, tx.tx_id, record.partition, record.offset)
            result.features = feature_calc.compute(tx, prior, self.feedback, self.config)
            history.add(Entry(tx.event_ms, tx.tx_id, tx.amount, tx.terminal_id, tx.lat, tx.lon,
                              record.partition, record.offset), self.config.retention_ms, self.config.max_entries)
            touched.add(tx.card_id)

        scored = [r for r in results if r.status == SCORED]
        probabilities = self.model.predict([r.features for r in scored]) if self.model and scored else None
        for i, result in enumerate(scored):
            fired = rule_engine.fired(self.config.rules, result.features)
            result.reasons = rule_engine.reasons(fired, result.features)
            result.rule_score = rule_engine.rule_score(fired)
            if probabilities is not None:
                result.score = float(probabilities[i])
                if not result.reasons and result.score >= self.config.alert_threshold:
                    result.reasons = [{"code": "MODEL_SCORE", "feature": "score", "value": round(result.score, 4),
                                       "threshold": self.config.alert_threshold}]
            else:
                result.score = result.rule_score
            result.decision = ALERT if result.score >= self.config.alert_threshold else PASS

        if touched:
            self.store.save({card: self.cache[card].encode() for card in touched}, now_ms)
        done_ms = int(time.time() * 1000)
        for result in results:
            result.scored_ms = done_ms
        return results
