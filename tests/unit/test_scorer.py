"""Batch scoring: validation, duplicates, decisions, and identical scores when a replay starts from
any earlier point (the property the restart test checks on the real stack)."""

from __future__ import annotations

import pytest

from include.scoring import config as scoring_config
from include.scoring.feedback import FeedbackIndex
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
        out.append(SourceRecord(encode(tx).decode(), partition=i % cards % 2, offset=i, kafka_ms=tx.event_ms))
    return out


def batched(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def scores(results):
    return {r.tx.tx_id: (r.score, r.decision, r.reasons, r.features) for r in results if r.status == SCORED}


def test_bad_records_are_rejected_and_the_rest_scored():
    batch = records(10) + [SourceRecord("{oops", 0, 99, T0), SourceRecord(None, 1, 100, T0)]
    results = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex()).score_batch(batch)
    assert [r.status for r in results] == [SCORED] * 10 + [REJECTED] * 2
    assert results[-2].reject_reason.startswith("malformed_json")
    assert '"payload":"{oops"' in results[-2].dead_letter_json()


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
    again = SourceRecord(batch[1].payload, batch[1].partition, offset=500, kafka_ms=batch[1].kafka_ms)
    result = scorer.score_batch([again])[0]
    assert result.status == REJECTED and result.reject_reason.startswith("duplicate_tx_id")
    # ...but the same record read again (a replay) is scored, not a duplicate
    assert scorer.score_batch([batch[1]])[0].status == SCORED


def test_a_duplicate_within_one_batch_is_rejected_and_logged_once():
    store = MemoryCardStore()
    batch = records(3)
    again = SourceRecord(batch[1].payload, batch[1].partition, offset=500, kafka_ms=batch[1].kafka_ms)
    results = BatchScorer(CONFIG, store, FeedbackIndex()).score_batch([*batch, again])
    assert [r.status for r in results] == [SCORED] * 3 + [REJECTED]
    assert results[-1].reject_reason == f"duplicate_tx_id: tx0001 first read at partition {batch[1].partition} offset 1"
    logged = [entry.tx_id for items in store.log.values() for entries in items.values() for _, entry in entries]
    assert sorted(logged) == ["tx0000", "tx0001", "tx0002"]


def test_the_same_tx_id_on_another_card_is_judged_the_same_whatever_the_batches():
    one, other = records(2, cards=2)
    clash = other.payload.replace('"tx_id":"tx0001"', '"tx_id":"tx0000"')
    twin = SourceRecord(clash, other.partition, other.offset, other.kafka_ms)
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
    scorer = BatchScorer(CONFIG, MemoryCardStore(), FeedbackIndex(), cache_cards=3)
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
