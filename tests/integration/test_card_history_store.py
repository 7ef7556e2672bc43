"""The scorer's card histories in real DynamoDB: the log, its compaction into card items, and a worker
restarted mid-stream that scores a replay exactly like the first run (the job compacts every two
minutes, too rarely for the end-to-end tests to see it; here it compacts after every batch)."""

from __future__ import annotations

import pytest

from include import aws
from include.scoring.card_store import DynamoCardStore, drop_tables, ensure_table
from include.scoring.feedback import FeedbackIndex
from include.scoring.scorer import BatchScorer
from tests.unit.test_scorer import CONFIG, batched, records, scores


@pytest.fixture
def store(unique_name):
    client = aws.dynamodb_client()
    ensure_table(client, unique_name)
    yield DynamoCardStore(client, unique_name)
    drop_tables(client, unique_name)


def test_compacted_histories_replay_exactly_like_the_first_run(store):
    stream = records(600, cards=23)
    first = BatchScorer(CONFIG, store, FeedbackIndex(), compact_every_s=0.0)
    uninterrupted = {}
    for batch in batched(stream, 50):
        uninterrupted.update(scores(first.score_batch(batch)))
    first.close()
    # compaction ran (one partition at a time; the other's entries wait in the log)
    assert store.load([f"C{card:09d}" for card in range(23)])

    replayer = BatchScorer(CONFIG, DynamoCardStore(aws.dynamodb_client(), store.table), FeedbackIndex())
    replayed = {}
    for batch in batched(stream[250:], 73):
        replayed.update(scores(replayer.score_batch(batch)))
    replayer.close()
    assert len(replayed) == 350
    assert replayed == {tx_id: uninterrupted[tx_id] for tx_id in replayed}
