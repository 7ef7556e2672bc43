"""Scores a batch of raw Kafka records of the transactions topic: validate, read card histories, compute
features, score, log the new history entries. The Flink UDF (flink/udfs.py, through verdicts.py) scores
each Arrow batch in a `batch()` block; nothing here depends on Flink, so tests and the benchmark run it
directly. Every record ends as one Result, scored or rejected with its reason; none raises.

DynamoDB traffic (see card_store.py): per batch, one BatchGetItem per 100 cards not yet cached and one
log item per Kafka partition in the batch. The log write starts as soon as the batch's new entries are
known and runs while the batch is scored and its results converted; leaving the `batch()` block waits
for it, so all a checkpoint covers is durable before the results leave the UDF. Every
`compact_every_s` seconds (or `compact_max_entries` entries) a partition's log is folded into its
cards' items: one put per card touched in that time. Every 2 minutes rather than every 30 s: an active
card is rewritten once instead of four times (bench/README.md has the measured difference); a restart
reads at most that much log back.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from include.dead_letters import DeadLetter
from include.messages import MAX_JUDGED_BYTES, Rejected
from include.scoring import features as feature_calc
from include.scoring import rules as rule_engine
from include.scoring.card_store import DynamoCardStore
from include.scoring.config import ScoringConfig
from include.scoring.feedback import Feedback, FeedbackIndex
from include.scoring.history import CardHistory, Entry
from include.scoring.model import Model
from include.transactions import Transaction, format_event_time, parse

log = logging.getLogger(__name__)

# Cards a compaction encodes or loads at once (card_store: 25 per BatchWriteItem, 100 per BatchGetItem).
COMPACTION_CHUNK_CARDS = 1_000

ALERT, PASS = "ALERT", "PASS"
SCORED, REJECTED, CONFIRMED = "scored", "rejected", "confirmed"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A Kafka record as the job reads it. A value longer than MAX_JUDGED_BYTES arrives as its first
    4,096 bytes only, with its full length and sha256 (computed by the job's SQL, flink/sql/scoring/
    5_verdicts_view.sql); a key as its first 256 bytes."""

    payload: bytes | None
    partition: int
    offset: int
    kafka_ms: int
    topic: str = ""
    key: bytes | None = None
    full_length: int | None = None  # set only when `payload` is the first bytes of a longer value
    full_sha256: str | None = None

    @property
    def truncated(self) -> bool:
        return self.full_length is not None


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
    feedback: Feedback | None = None  # a confirmed fraud from the feedback topic (status CONFIRMED)

    def reasons_json(self) -> str:
        return orjson.dumps(self.reasons).decode()

    def alert_json(self, model_version: str, config_version: int) -> str | None:
        if self.decision != ALERT:
            return None
        tx = self.tx
        return orjson.dumps(
            {
                "tx_id": tx.tx_id,
                "card_id": tx.card_id,
                "terminal_id": tx.terminal_id,
                "amount": tx.amount,
                "currency": tx.currency,
                "event_time": format_event_time(tx.event_ms),
                "score": round(self.score, 6),
                "decision": self.decision,
                "reasons": self.reasons,
                "model_version": model_version,
                "config_version": config_version,
                "detected_at": format_event_time(self.scored_ms),
            }
        ).decode()

    def dead_letter(self) -> DeadLetter | None:
        if self.status != REJECTED:
            return None
        r = self.record
        length = r.full_length if r.truncated else (None if r.payload is None else len(r.payload))
        sha256 = (
            r.full_sha256 if r.truncated else (None if r.payload is None else hashlib.sha256(r.payload).hexdigest())
        )
        return DeadLetter(
            self.reject_reason,
            r.topic,
            r.partition,
            r.offset,
            r.kafka_ms,
            r.key,
            length,
            sha256,
            r.payload,
            self.scored_ms,
        )


def rejected(record: SourceRecord, error: Exception) -> Result:
    """The Result of a record that failed validation, or raised anything else (an unforeseen record must
    not stop the job: it is dead-lettered as `unreadable`)."""
    if isinstance(error, Rejected):
        return Result(REJECTED, record, reject_reason=error.reason)
    # Unforeseen: a check is missing. Logged (once per such record) as well as dead-lettered.
    log.warning(
        "a record no check foresaw is dead-lettered as unreadable: %s",
        type(error).__name__,
        exc_info=error,
        extra={"topic": record.topic, "partition": record.partition, "offset": record.offset, "reason": "unreadable"},
    )
    return Result(
        REJECTED, record, reject_reason=Rejected("unreadable", f"{type(error).__name__}: {str(error)[:120]}").reason
    )


def parse_record(record: SourceRecord) -> Transaction:
    """The transaction a record of the transactions topic holds, or Rejected. Beyond the message itself
    (include/transactions.py), the record must be keyed by the transaction's card: a card's history is
    kept by whoever reads its partition, so a record in another partition would split it."""
    if record.truncated:
        raise Rejected("too_large", f"{record.full_length} bytes, at most {MAX_JUDGED_BYTES}")
    tx = parse(record.payload, record.kafka_ms)
    if record.key != tx.card_id.encode():
        shown = "none" if record.key is None else repr(record.key[:40])
        raise Rejected("key_mismatch", f"record key {shown} is not the card_id {tx.card_id}")
    return tx


class CardCache:
    """Card histories, least recently used evicted first, bounded by an estimate of the memory they hold
    (CardHistory.approx_bytes), not by their number: a card's history ranges from one entry to
    history.max_entries. A history put in is kept even when it alone exceeds the budget, until the next
    put; callers hold the histories of their batch themselves, so eviction never loses one in use."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self._histories: OrderedDict[str, CardHistory] = OrderedDict()
        self._sizes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._histories)

    def __contains__(self, card: str) -> bool:
        return card in self._histories

    def get(self, card: str) -> CardHistory | None:
        """The card's history, now the most recently used, or None (counted as a hit or a miss)."""
        history = self._histories.get(card)
        if history is None:
            self.misses += 1
            return None
        self.hits += 1
        self._histories.move_to_end(card)
        return history

    def peek(self, card: str) -> CardHistory | None:
        """The card's history, without touching its place or the hit counts."""
        return self._histories.get(card)

    def put(self, card: str, history: CardHistory) -> None:
        self._histories[card] = history
        self._histories.move_to_end(card)
        self.resize(card)

    def resize(self, card: str) -> None:
        """Takes the card's (grown) history into account, evicting others while over budget."""
        if card not in self._histories:
            return
        size = self._histories[card].approx_bytes()
        self.bytes += size - self._sizes.get(card, 0)
        self._sizes[card] = size
        while self.bytes > self.max_bytes and len(self._histories) > 1:
            evicted, _ = self._histories.popitem(last=False)
            self.bytes -= self._sizes.pop(evicted)


class Compactor:
    """Folds a partition's log into its cards' items on a background thread, so scoring never waits
    for it: writes every card item the log touched, then deletes the log items it covered. Cards still
    in the cache are written from their histories; evicted ones are read back here (one BatchGetItem per
    100) and merged with their logged entries, so a log touching more cards than the cache holds costs
    the scorer nothing. Until it is done, `pending` keeps the folded entries for cards the scorer
    (re)loads meanwhile. An error is raised in the scoring thread at its next check (the task fails and
    restarts)."""

    def __init__(self, store: DynamoCardStore, config: ScoringConfig):
        self.store = store
        self.config = config
        self.pending: dict[str, list[Entry]] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(
        self, partition: int, cached: dict[str, list[Entry]], logged: dict[str, list[Entry]], keys: set[int]
    ) -> None:
        """`cached`: the full history of the log's cards still in the cache; `logged`: the log's entries
        of every card it touched."""
        self.pending = logged
        evicted = [card for card in logged if card not in cached]

        def merged(card: str, blob: bytes | None) -> bytes:
            history = CardHistory.decode(card, blob)
            for entry in logged[card]:
                history.add(entry, self.config.retention_ms, self.config.max_entries)
            return history.encode()

        def run() -> None:
            # In chunks, so what is encoded and loaded at once stays small however many cards the log
            # touched; the log items go only once every card item is written (a crash in between
            # leaves them, and writing the same entries again changes nothing).
            try:
                now = int(time.time() * 1000)
                in_cache = sorted(cached)
                for start in range(0, len(in_cache), COMPACTION_CHUNK_CARDS):
                    chunk = in_cache[start : start + COMPACTION_CHUNK_CARDS]
                    self.store.save({card: CardHistory(card, cached[card]).encode() for card in chunk}, now)
                for start in range(0, len(evicted), COMPACTION_CHUNK_CARDS):
                    chunk = evicted[start : start + COMPACTION_CHUNK_CARDS]
                    stored = self.store.load(chunk)
                    self.store.save({card: merged(card, stored.get(card)) for card in chunk}, now)
                if keys:
                    self.store.delete_log(partition, keys)
            except BaseException as error:  # handed to the scoring thread
                self._error = error

        self._thread = threading.Thread(target=run, name=f"compact-p{partition}", daemon=True)
        self._thread.start()

    def check(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread, self.pending = None, {}
            if self._error is not None:
                error, self._error = self._error, None
                raise error

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self.check()


class BatchScorer:
    def __init__(
        self,
        config: ScoringConfig,
        store: DynamoCardStore,
        feedback: FeedbackIndex,
        model: Model | None = None,
        cache_bytes: int = 256 * 2**20,
        compact_every_s: float = 120.0,
        compact_max_entries: int = 100_000,
        clock=time.monotonic,
    ):
        self.config = config
        self.store = store
        self.feedback = feedback
        self.model = model
        self.cache = CardCache(cache_bytes)
        self.compact_every_s = compact_every_s
        self.compact_max_entries = compact_max_entries
        self.clock = clock
        # Per Kafka partition: the log not yet compacted (card -> entries, and the log items' keys).
        self.log_entries: dict[int, dict[str, list[Entry]]] = {}
        self.log_sizes: dict[int, int] = {}  # entries in log_entries[partition], kept in step with it
        self.log_keys: dict[int, set[int]] = {}
        self.last_compaction: dict[int, float] = {}
        self.compactor = Compactor(store, config)
        self._log_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-log")

    @property
    def model_version(self) -> str:
        return self.model.version if self.model else f"rules-v{self.config.version}"

    def _read_log(self, partitions: set[int]) -> None:
        """The first time a partition shows up, its uncompacted log (what earlier runs wrote)."""
        for partition in partitions - self.log_entries.keys():
            entries: dict[str, list[Entry]] = {}
            items = self.store.read_log(partition)
            for logged in items.values():
                for card, entry in logged:
                    entries.setdefault(card, []).append(entry)
            self.log_entries[partition] = entries
            self.log_sizes[partition] = sum(len(logged) for logged in items.values())
            self.log_keys[partition] = set(items)
            self.last_compaction[partition] = self.clock()

    def _histories(self, cards: dict[str, int]) -> dict[str, CardHistory]:
        """The history of every card of `cards` (card -> partition), from the cache or loaded: its item
        plus its logged entries (including those a running compaction is writing into the item right
        now). Loaded ones go into the cache, but callers use the returned dict: the cache may evict."""
        histories = {card: history for card in cards if (history := self.cache.get(card)) is not None}
        missing = [c for c in cards if c not in histories]
        if missing:
            blobs = self.store.load(missing)
            for card in missing:
                history = CardHistory.decode(card, blobs.get(card))
                logged = (*self.compactor.pending.get(card, ()), *self.log_entries[cards[card]].get(card, ()))
                for entry in logged:
                    history.add(entry, self.config.retention_ms, self.config.max_entries)
                self.cache.put(card, history)
                histories[card] = history
        return histories

    def _logged(self, new_entries: dict[int, list[tuple[str, Entry]]], written: Future | None) -> None:
        """Waits for the batch's log write (raising its error), then notes what it wrote."""
        if written is None:
            return
        for partition, keys in written.result().items():
            self.log_keys[partition].update(keys)
        for partition, entries in new_entries.items():
            for card, entry in entries:
                self.log_entries[partition].setdefault(card, []).append(entry)
            self.log_sizes[partition] += len(entries)

    def _compact_due(self) -> None:
        """Hands one partition's log to the compactor when it is old or large enough (and the
        compactor is free): a snapshot of the cards' histories, and the log items they cover.

        The log the scorer keeps in memory is bounded: at twice compact_max_entries over all its
        partitions, when compactions cannot keep up with the stream (DynamoDB takes the card writes slower
        than cards arrive), scoring waits for the running one. That is the only time compaction holds up
        scoring."""
        self.compactor.check()
        if self.compactor.busy:
            if sum(self.log_sizes.values()) < 2 * self.compact_max_entries:
                return
            self.compactor.wait()
        for partition, cards in self.log_entries.items():
            size = self.log_sizes[partition]
            if size >= self.compact_max_entries or (
                size and self.clock() - self.last_compaction[partition] >= self.compact_every_s
            ):
                cached = {
                    card: list(history.entries) for card in cards if (history := self.cache.peek(card)) is not None
                }
                self.compactor.start(partition, cached, cards, self.log_keys[partition])
                self.log_entries[partition], self.log_sizes[partition], self.log_keys[partition] = {}, 0, set()
                self.last_compaction[partition] = self.clock()
                return

    def drain(self) -> None:
        """Waits for a running compaction."""
        self.compactor.wait()

    def score_batch(self, records: list[SourceRecord]) -> list[Result]:
        """Scores a batch and waits until its history entries are written (see `batch`)."""
        with self.batch(records) as results:
            return results

    @contextmanager
    def batch(self, records: list[SourceRecord]) -> Iterator[list[Result]]:
        """Yields the batch's results while its new history entries are being written to DynamoDB;
        leaving the block waits for that write (and raises its error). Hand the results on only after
        the block: a checkpoint may follow as soon as they leave the UDF."""
        results: list[Result] = []
        for record in records:
            try:
                results.append(Result(SCORED, record, tx=parse_record(record)))
            except Exception as error:  # noqa: BLE001 - whatever a record holds, it must not stop the job
                results.append(rejected(record, error))
        valid = [r for r in results if r.status == SCORED]
        self._read_log({r.record.partition for r in valid})
        histories = self._histories({r.tx.card_id: r.record.partition for r in valid})

        # The new history entries do not depend on any score: write them while the batch is scored.
        accepted = self._accept(valid, histories)
        new_entries: dict[int, list[tuple[str, Entry]]] = {}
        for result, entry in accepted:
            new_entries.setdefault(entry.partition, []).append((result.tx.card_id, entry))
        written = self._log_writer.submit(self.store.append_log, new_entries) if new_entries else None
        try:
            self._score(accepted, histories)
            done_ms = int(time.time() * 1000)
            for result in results:
                result.scored_ms = done_ms
            yield results
        finally:
            self._logged(new_entries, written)
        for result, _ in accepted:  # their histories grew
            self.cache.resize(result.tx.card_id)
        self._compact_due()

    def _accept(self, valid: list[Result], histories: dict[str, CardHistory]) -> list[tuple[Result, Entry]]:
        """Every transaction to score, with its history entry.

        A transaction older than the card's history horizon (its newest transaction read before it, minus
        `ScoringConfig.history_horizon_ms`) is rejected as `too_old`: its windows would reach past what
        the history keeps, and a repeat of its tx_id could no longer be recognised. A tx_id already read
        for the same card at another position (earlier, or before in this batch) is rejected as a
        duplicate; the same record read again (a replay) is scored again, and its entry written again.
        Duplicates are found per card, the unit of a card's history (and of a Kafka partition): the same
        tx_id on two cards, or repeated beyond the horizon with a newer event time, is scored again;
        the staging model of scored_transactions keeps the first (dbt_project, stg_scored_transactions)."""
        accepted: list[tuple[Result, Entry]] = []
        in_batch: dict[tuple[str, str], tuple[int, int]] = {}
        newest_in_batch: dict[str, int] = {}  # the batch's entries join the histories only once scored
        horizon_ms = self.config.history_horizon_ms
        for result in valid:
            tx, record = result.tx, result.record
            newest = histories[tx.card_id].newest_read_before(record.partition, record.offset)
            batch_newest = newest_in_batch.get(tx.card_id)
            if batch_newest is not None and (newest is None or batch_newest > newest):
                newest = batch_newest
            if newest is not None and tx.event_ms < newest - horizon_ms:
                result.status = REJECTED
                result.reject_reason = (
                    f"too_old: event_time {format_event_time(tx.event_ms)} is more than "
                    f"{horizon_ms // 86_400_000} days before the card's newest transaction "
                    f"({format_event_time(newest)})"
                )
                continue
            first = histories[tx.card_id].seen(tx.tx_id)
            key = (tx.card_id, tx.tx_id)
            position = (first.partition, first.offset) if first is not None else in_batch.get(key)
            if position is not None and position != (record.partition, record.offset):
                result.status = REJECTED
                result.reject_reason = (
                    f"duplicate_tx_id: {tx.tx_id} first read at partition {position[0]} offset {position[1]}"
                )
                continue
            in_batch[key] = (record.partition, record.offset)
            if batch_newest is None or tx.event_ms > batch_newest:
                newest_in_batch[tx.card_id] = tx.event_ms
            accepted.append(
                (
                    result,
                    Entry(
                        tx.event_ms,
                        tx.tx_id,
                        tx.amount,
                        tx.terminal_id,
                        tx.lat,
                        tx.lon,
                        record.partition,
                        record.offset,
                    ),
                )
            )
        return accepted

    def _score(self, accepted: list[tuple[Result, Entry]], histories: dict[str, CardHistory]) -> None:
        """Features from each card's prior history (adding each transaction after its own score),
        then the model's and the rules' scores, decisions and reasons."""
        for result, entry in accepted:
            tx = result.tx
            history = histories[tx.card_id]
            prior = history.prior(tx.event_ms, tx.tx_id, entry.partition, entry.offset, self.config.max_entries_used)
            result.features = feature_calc.compute(tx, prior, self.feedback, self.config)
            history.add(entry, self.config.retention_ms, self.config.max_entries)

        scored = [result for result, _ in accepted]
        probabilities = self.model.predict([r.features for r in scored]) if self.model and scored else None
        for i, result in enumerate(scored):
            fired = rule_engine.fired(self.config.rules, result.features)
            result.reasons = rule_engine.reasons(fired, result.features)
            result.rule_score = rule_engine.rule_score(fired)
            result.score = float(probabilities[i]) if probabilities is not None else result.rule_score
            result.decision = ALERT if result.score >= self.config.alert_threshold else PASS
        if probabilities is not None:
            self._add_model_reasons([result for result in scored if result.decision == ALERT])

    def _add_model_reasons(self, alerts: list[Result]) -> None:
        """Each alert's reasons from the model, after the rules': the features that raise its score most
        (Model.contributions), or, for a model without baselines, the score itself."""
        contributions = self.model.contributions([r.features for r in alerts], [r.score for r in alerts])
        for result, named in zip(alerts, contributions, strict=True):
            result.reasons += [
                {
                    "code": "MODEL_FEATURE",
                    "feature": name,
                    "value": result.features.get(name),
                    "contribution": round(drop, 4),
                }
                for name, drop in named
            ] or [
                {
                    "code": "MODEL_SCORE",
                    "feature": "score",
                    "value": round(result.score, 4),
                    "threshold": self.config.alert_threshold,
                }
            ]

    def close(self) -> None:
        """Waits for a running compaction and stops the log writer."""
        self.drain()
        self._log_writer.shutdown(wait=True)
