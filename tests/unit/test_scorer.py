"""Batch scoring: validation, duplicates, decisions, and identical scores when a replay starts from
any earlier point (the property the restart test checks on the real stack)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from include.scoring import config as scoring_config
from include.scoring.feedback import FeedbackIndex
from include.scoring.history import CardHistory
from include.scoring.scorer import ALERT, REJECTED, SCORED, BatchScorer, SourceRecord
from include.transactions import Transaction, encode
from tests.unit.scoring_fakes import MemoryCardStore

CONFIG = scoring_config.load()
T0 = 1_767_312_000_000


def records(n: int, cards: int = 5) -> list[SourceRecord]:
    out = []
    for i in range(n):
        amount = 900.0 if i % 17 == 0 else 10.0 + i % 13
        late = 1_800_000 if i % 50 == 49 else 0  # every 50th arrives half an hour late
        tx = Transaction(f"tx{i:04d}", f"C{i % cards:09d}", f"T{i % 7}", amount, "EUR", T0 + i * 60_000 - late)
        out.append(
            SourceRecord(encode(tx), partition=i % cards % 2, offset=i, kafka_ms=tx.event_ms, key=tx.card_id.encode())
        )
    return out


def batched(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def scores(results):
    return {r.tx.tx_id: (r.score, r.decision, r.reasons, r.features) for r in results if r.status == SCORED}


def test_bad_records_are_rejected_and_the_rest_scored():
    batch = records(10) + [SourceRecord(b"{oops", 0, 99, T0), SourceRecord(None, 1, 100, T0)]
    results = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch(batch)
    assert [r.status for r in results] == [SCORED] * 10 + [REJECTED] * 2
    assert results[-2].reject_reason.startswith("malformed_json")
    assert '"payload_prefix":"{oops"' in results[-2].dead_letter().json()
    assert results[-1].reject_reason.startswith("tombstone")


def test_high_amount_is_alerted_with_reasons():
    results = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch(records(20))
    first = results[0]
    assert first.decision == ALERT and first.score >= CONFIG.alert_threshold
    assert first.reasons[0]["code"] == "HIGH_AMOUNT"
    assert '"tx_id":"tx0000"' in first.alert_json("rules-v1", 1)
    assert results[1].decision == "PASS" and results[1].alert_json("rules-v1", 1) is None


def test_a_second_message_with_the_same_tx_id_is_a_duplicate():
    scorer = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex())
    batch = records(3)
    scorer.score_batch(batch)
    again = dataclasses.replace(batch[1], offset=500)
    result = scorer.score_batch([again])[0]
    assert result.status == REJECTED and result.reject_reason.startswith("duplicate_tx_id")
    # ...but the same record read again (a replay) is scored, not a duplicate
    assert scorer.score_batch([batch[1]])[0].status == SCORED


def test_a_duplicate_within_one_batch_is_rejected_and_logged_once():
    store = MemoryCardStore()
    batch = records(3)
    again = dataclasses.replace(batch[1], offset=500)
    results = BatchScorer(CONFIG, store, FeedbackIndex()).score_batch([*batch, again])
    assert [r.status for r in results] == [SCORED] * 3 + [REJECTED]
    assert results[-1].reject_reason == f"duplicate_tx_id: tx0001 first read at partition {batch[1].partition} offset 1"
    logged = [entry.tx_id for items in store.log.values() for entries in items.values() for _, entry in entries]
    assert sorted(logged) == ["tx0000", "tx0001", "tx0002"]


def test_the_same_tx_id_on_another_card_is_judged_the_same_whatever_the_batches():
    one, other = records(2, cards=2)
    twin = dataclasses.replace(other, payload=other.payload.replace(b'"tx_id":"tx0001"', b'"tx_id":"tx0000"'))
    together = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch([one, twin])
    apart = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex())
    separately = apart.score_batch([one]) + apart.score_batch([twin])
    assert [r.status for r in together] == [r.status for r in separately] == [SCORED, SCORED]


def test_a_message_no_check_foresaw_is_dead_lettered_not_raised(monkeypatch):
    def parse_that_breaks(payload, kafka_ms=None):
        raise MemoryError("unforeseen")

    monkeypatch.setattr("include.scoring.scorer.parse", parse_that_breaks)
    result = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch(records(1))[0]
    assert result.status == REJECTED and result.reject_reason == "unreadable: MemoryError: unforeseen"


def test_a_full_cache_never_evicts_a_card_the_batch_needs():
    scorer = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex(), cache_bytes=3 * 4096)
    stream = records(40, cards=8)
    for batch in batched(stream, 5):  # five cards per batch, more than the cache holds
        assert all(r.status == SCORED for r in scorer.score_batch(batch))


class FailingLogStore(MemoryCardStore):
    def append_log(self, entries_by_partition):
        raise RuntimeError("DynamoDB unavailable")


def test_results_are_not_handed_on_when_the_history_write_fails():
    scorer = BatchScorer(CONFIG, FailingLogStore(), FeedbackIndex())
    handed_on = []
    with pytest.raises(RuntimeError, match="DynamoDB unavailable"):
        with scorer.batch(records(5)) as results:
            converted = [r.score for r in results]  # what the UDF does inside the block
        handed_on.append(converted)
    assert not handed_on


def test_a_batch_costs_one_read_per_100_new_cards_and_one_log_write():
    store = MemoryCardStore()
    BatchScorer(CONFIG, store, FeedbackIndex()).score_batch(records(1000, cards=50))
    # reading the log of 2 partitions once, one BatchGetItem (50 cards), one log write for both partitions
    assert store.requests == 2 + 1 + 1
    assert not store.items


def test_compaction_writes_each_card_once_and_empties_the_log():
    store = MemoryCardStore()
    clock = [0.0]
    scorer = BatchScorer(CONFIG, store, FeedbackIndex(), compact_every_s=10, clock=lambda: clock[0])
    for batch in batched(records(1000, cards=50), 100):
        scorer.score_batch(batch)
    assert len(store.log[0]) == 10 and not store.items
    for step in (1, 2):  # one partition per compaction
        clock[0] += 11.0
        scorer.score_batch(records(1000 + step, cards=50)[-1:])
        scorer.drain()
    assert len(store.items) == 50 and sum(len(items) for items in store.log.values()) <= 1


@pytest.mark.parametrize("compact_every_s", [0.0, 1e9], ids=["compacting", "log-only"])
@pytest.mark.parametrize("restore_at", [0, 137, 500, 999])
def test_replay_from_any_point_scores_exactly_like_the_first_run(restore_at, compact_every_s):
    stream = records(1000, cards=23)
    store = MemoryCardStore()
    first = BatchScorer(CONFIG, store, FeedbackIndex(), compact_every_s=compact_every_s)
    uninterrupted = {}
    for batch in batched(stream, 64):
        uninterrupted.update(scores(first.score_batch(batch)))
    first.drain()
    # A crash: the new worker starts with an empty cache, DynamoDB holds everything written so far,
    # and Kafka is replayed from the restored offset with different batch boundaries.
    replayer = BatchScorer(CONFIG, store, FeedbackIndex())
    replayed = {}
    for batch in batched(stream[restore_at:], 97):
        replayed.update(scores(replayer.score_batch(batch)))
    assert replayed == {k: v for k, v in uninterrupted.items() if k in replayed}
    assert len(replayed) == 1000 - restore_at


def test_a_replay_scores_the_same_when_a_card_has_more_entries_than_features_use():
    one_card = [r for r in records(600, cards=1)]  # 600 entries: above max_entries (500)
    store = MemoryCardStore()
    first = BatchScorer(CONFIG, store, FeedbackIndex())
    uninterrupted = {}
    for batch in batched(one_card, 50):
        uninterrupted.update(scores(first.score_batch(batch)))
    restore_at = 600 - (CONFIG.max_entries - CONFIG.max_entries_used)
    replayed = scores(BatchScorer(CONFIG, store, FeedbackIndex()).score_batch(one_card[restore_at:]))
    assert replayed == {k: v for k, v in uninterrupted.items() if k in replayed}
    assert max(features["card_history_count"] for *_, features in replayed.values()) == CONFIG.max_entries_used


def test_a_record_not_keyed_by_its_card_is_rejected():
    good = records(1)[0]
    for key in (None, b"", b"C000000009", good.key + b" ", b"\xff"):
        [result] = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch(
            [dataclasses.replace(good, key=key)]
        )
        assert result.status == REJECTED and result.reject_reason.startswith("key_mismatch"), key


def test_a_value_longer_than_the_udf_is_handed_is_too_large():
    record = SourceRecord(b"x" * 100, 0, 1, T0, key=b"C000000000", full_length=300_000, full_sha256="ab" * 32)
    [result] = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch([record])
    assert result.reject_reason.startswith("too_large: 300000 bytes")
    letter = result.dead_letter()
    assert (letter.payload_length, letter.payload_sha256) == (300_000, "ab" * 32)


def _one(card: str, tx_id: str, event_ms: int, offset: int) -> SourceRecord:
    tx = Transaction(tx_id, card, "T1", 10.0, "EUR", event_ms)
    return SourceRecord(encode(tx), 0, offset, event_ms, key=card.encode())


def test_a_transaction_older_than_the_cards_history_horizon_is_rejected_and_a_replay_judges_it_the_same():
    day = 86_400_000
    horizon = CONFIG.history_horizon_ms
    card = "C000000001"
    store = MemoryCardStore()
    stream = [
        _one(card, "new", T0, 1),
        _one(card, "late-ok", T0 - horizon + day, 2),
        _one(card, "too-late", T0 - horizon - day, 3),
        _one(card, "much-later", T0 + 25 * day, 4),
    ]
    first = [(r.status, r.reject_reason) for r in BatchScorer(CONFIG, store, FeedbackIndex()).score_batch(stream)]
    assert [status for status, _ in first] == [SCORED, SCORED, REJECTED, SCORED]
    assert first[2][1].startswith("too_old: event_time")
    # A replay from offset 2 finds "much-later" already stored: it must not move the horizon.
    replay = BatchScorer(CONFIG, store, FeedbackIndex()).score_batch(stream[1:])
    assert [(r.status, r.reject_reason) for r in replay] == first[1:]


def test_the_card_cache_stays_within_its_budget_in_bytes():
    budget = 200_000
    scorer = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex(), cache_bytes=budget)
    for batch in batched(records(3000, cards=400), 100):
        assert all(r.status == SCORED for r in scorer.score_batch(batch))
        assert scorer.cache.bytes <= budget
        assert scorer.cache.bytes == sum(scorer.cache.peek(c).approx_bytes() for c in list(scorer.cache._histories))
    assert 0 < len(scorer.cache) < 400 and scorer.cache.misses > 0


class SlowLoadStore(MemoryCardStore):
    """Card items load only when the test allows it, when asked from another thread than the scorer's."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def load(self, card_ids):
        if threading.current_thread() is not threading.main_thread():
            assert self.release.wait(10), "never released"
        return super().load(card_ids)


def test_compacting_cards_evicted_from_the_cache_never_stalls_scoring_and_stores_full_histories():
    store = SlowLoadStore()
    clock = [0.0]
    stream = records(2000, cards=300)
    scorer = BatchScorer(CONFIG, store, FeedbackIndex(), cache_bytes=60_000, compact_every_s=10, clock=lambda: clock[0])
    reference = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex())
    for batch in batched(stream[:1000], 100):
        scorer.score_batch(batch)
        reference.score_batch(batch)
    clock[0] += 11.0
    scorer.score_batch(stream[1000:1100])  # starts a compaction: most of its cards are evicted
    assert scorer.compactor.busy
    for batch in batched(stream[1100:], 100):  # ...whose reads are held: scoring goes on meanwhile
        scorer.score_batch(batch)
    for batch in batched(stream[1000:], 100):
        reference.score_batch(batch)
    assert scorer.compactor.busy
    store.release.set()
    scorer.drain()
    # every card item written holds the card's whole history at that point (no logged entry lost)
    for card, blob in store.items.items():
        stored = {e.tx_id for e in CardHistory.decode(card, blob).entries}
        assert stored and stored <= {e.tx_id for e in reference.cache.peek(card).entries}


def test_the_log_in_memory_is_bounded_when_compaction_falls_behind():
    store = SlowLoadStore()
    scorer = BatchScorer(CONFIG, store, FeedbackIndex(), cache_bytes=10_000, compact_max_entries=100)
    stream = records(2000, cards=500)
    waited = threading.Timer(2.0, store.release.set)  # the held compaction is let go after 2 s
    waited.start()
    for batch in batched(stream, 50):
        scorer.score_batch(batch)
        assert sum(scorer.log_sizes.values()) < 2 * 100 + 50  # a batch more than the bound at most
    assert store.release.is_set()  # scoring had to wait for it
    waited.cancel()
