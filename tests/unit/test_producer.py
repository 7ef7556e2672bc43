"""The producer's simulator, timeline and files (pure Python, no Kafka)."""

from __future__ import annotations

import bisect
import collections
import itertools

from include.scoring.feedback import parse_feedback
from include.transactions import Rejected, encode, parse
from producer import files
from producer.simulator import Simulator
from producer.timeline import BAD, FEEDBACK, TX, messages

DAY = 86_400_000
START = 1_767_225_600_000  # 2026-01-01


def simulate(seed=3, cards=300, days=10):
    return list(Simulator(cards, seed, START, days).transactions())


def test_simulator_is_deterministic_per_seed_and_differs_across_seeds():
    a, b, c = simulate(3), simulate(3), simulate(4)
    assert a == b
    assert [x.tx.tx_id for x in a[:50]] != [x.tx.tx_id for x in c[:50]]
    assert not {x.tx.card_id for x in a} & {x.tx.card_id for x in c}


def test_simulated_transactions_are_valid_ordered_and_labelled():
    items = simulate(cards=1000, days=30)
    assert all(parse(encode(i.tx)) == i.tx for i in items)
    times = [(i.tx.event_ms, i.tx.tx_id) for i in items]
    assert times == sorted(times)
    patterns = collections.Counter(i.fraud_pattern for i in items if i.is_fraud)
    assert set(patterns) == {
        "card_testing",
        "spending_spree",
        "impossible_travel",
        "compromised_terminal",
        "high_amount",
    }
    assert 0.001 < sum(patterns.values()) / len(items) < 0.02
    assert all(not i.is_fraud for i in items if i.fraud_pattern is None)


def test_timeline_confirms_every_fraud_after_the_delay_and_mixes_in_bad_records():
    items = simulate(cards=500, days=12)
    out = list(messages(items, feedback_delay_ms=7 * DAY, bad_every=100, bad_limit=8))
    kinds = collections.Counter(m.kind for m in out)
    assert kinds[TX] == len(items) and kinds[BAD] == 8
    frauds = {i.tx.tx_id: i.tx.event_ms for i in items if i.is_fraud}
    feedback = [parse_feedback(m.value) for m in out if m.kind == FEEDBACK]
    assert {f.tx_id for f in feedback} == set(frauds)
    assert all(f.confirmed_ms == frauds[f.tx_id] + 7 * DAY for f in feedback)
    # event-time order: when a transaction is sent, every confirmation due by then has been sent
    due = sorted(f.confirmed_ms for f in feedback)
    sent = 0
    for m in out:
        if m.kind == FEEDBACK:
            sent += 1
        elif m.kind == TX:
            assert sent == bisect.bisect_right(due, m.timestamp_ms)


def test_every_bad_record_is_rejected():
    items = simulate(cards=100, days=3)
    bad = [m for m in messages(items, 7 * DAY, bad_every=10, bad_limit=16) if m.kind == BAD]
    codes = collections.Counter()
    for message in bad:
        try:
            parse(message.value)
            raise AssertionError(f"accepted: {message.value!r}")
        except Rejected as rejected:
            codes[rejected.code] += 1
    assert set(codes) == {
        "malformed_json",
        "missing_field",
        "wrong_type",
        "invalid_amount",
        "invalid_card_id",
        "unknown_field",
    }


def test_project_file_round_trip(tmp_path):
    items = simulate(cards=50, days=2)
    path = tmp_path / "run.jsonl.gz"
    assert files.write_project(path, items) == len(items)
    assert list(files.read_project(path)) == items


def test_handbook_file_keeps_transaction_ids(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "TRANSACTION_ID": [11, 10],
            "TX_DATETIME": pd.to_datetime(["2018-04-01 00:05:00", "2018-04-01 00:01:00"]),
            "CUSTOMER_ID": [7, 3],
            "TERMINAL_ID": [12, 99],
            "TX_AMOUNT": [250.5, 9.99],
            "TX_FRAUD": [1, 0],
            "TX_FRAUD_SCENARIO": [1, 0],
        }
    )
    frame.to_parquet(tmp_path / "h.parquet")
    out = list(files.read_handbook(tmp_path / "h.parquet"))
    assert [(i.tx.tx_id, i.tx.card_id, i.tx.terminal_id) for i in out] == [
        ("10", "C000000003", "T000099"),
        ("11", "C000000007", "T000012"),
    ]
    assert out[1].is_fraud and out[1].fraud_pattern == "handbook_high_amount"
    assert list(itertools.islice((i.tx.event_ms for i in out), 1)) == [1522540860000]


def test_a_replay_split_in_two_parts_sends_everything_exactly_once():
    items = simulate(cards=400, days=14)
    cut = START + 8 * DAY + 3_600_000
    whole = [(m.kind, m.tx_id) for m in messages(items, 7 * DAY)]
    first = [(m.kind, m.tx_id) for m in messages(items, 7 * DAY, end_ms=cut)]
    second = [(m.kind, m.tx_id) for m in messages(items, 7 * DAY, start_ms=cut)]
    assert first + second == whole
