"""Card history: what a transaction may see, idempotent appends, retention, encoding."""

from __future__ import annotations

from include.scoring.history import CardHistory, Entry

DAY = 86_400_000


def entry(ms, tx_id, partition=0, offset=None, amount=10.0, terminal="T1"):
    return Entry(ms, tx_id, amount, terminal, None, None, partition, offset if offset is not None else ms)


def test_prior_is_strictly_before_in_event_time_with_tx_id_breaking_ties():
    h = CardHistory("C1", [entry(100, "a"), entry(200, "b"), entry(200, "d"), entry(300, "e")])
    assert h.prior(200, "c", 0, 10_000, limit=100).tx_ids == ["a", "b"]
    assert h.prior(200, "b", 0, 10_000, limit=100).tx_ids == ["a"]


def test_prior_leaves_out_what_arrived_later_in_the_same_partition():
    # "late" happened earlier but was read after "x" (higher offset): a replay of "x" must not see it.
    h = CardHistory("C1", [entry(100, "a", offset=1), entry(150, "late", offset=9), entry(300, "x", offset=5)])
    assert h.prior(300, "x", 0, 5, limit=100).tx_ids == ["a"]
    assert h.prior(300, "x", 1, 5, limit=100).tx_ids == ["a", "late"]  # other partition: no order known


def test_add_is_idempotent_and_keeps_event_time_order():
    h = CardHistory("C1")
    for e in (entry(300, "c"), entry(100, "a"), entry(200, "b"), entry(100, "a")):
        h.add(e, retention_ms=10 * DAY, max_entries=100)
    assert [e.tx_id for e in h.entries] == ["a", "b", "c"]
    assert h.seen("b").event_ms == 200


def test_retention_and_cap_drop_the_oldest():
    h = CardHistory("C1")
    for day in range(10):
        h.add(entry(day * DAY, f"t{day}"), retention_ms=3 * DAY, max_entries=100)
    assert [e.tx_id for e in h.entries] == ["t6", "t7", "t8", "t9"]
    assert h.seen("t5") is None
    h.add(entry(9 * DAY + 1, "u"), retention_ms=3 * DAY, max_entries=2)
    assert [e.tx_id for e in h.entries] == ["t9", "u"]


def test_encode_decode_round_trip():
    h = CardHistory("C1", [Entry(5, "a", 1.5, "T9", 48.1, 2.2, 3, 77), entry(9, "b")])
    assert CardHistory.decode("C1", h.encode()).entries == h.entries
    assert len(CardHistory.decode("C1", None)) == 0


def test_prior_uses_at_most_the_newest_limit_entries():
    h = CardHistory("C1", [entry(t, f"t{t}") for t in range(1, 11)])
    assert h.prior(100, "x", 0, 10_000, limit=3).tx_ids == ["t8", "t9", "t10"]
    assert h.prior(100, "x", 0, 10, limit=3).tx_ids == ["t8", "t9", "t10"]
    assert h.prior(100, "x", 0, 5, limit=3).tx_ids == ["t3", "t4", "t5"]  # a replay of offset 5


def test_approx_bytes_bounds_what_a_history_holds_for_the_longest_ids():
    """The card cache's budget (scorer.CardCache) holds only if the estimate is an upper bound."""
    import random
    import string
    import tracemalloc

    def an_id() -> str:
        return "".join(random.choices(string.ascii_letters + string.digits, k=64))

    for entries in (0, 1, 50, 500):
        tracemalloc.start()
        histories = []
        for card in range(50):
            history = CardHistory(f"C{card:09d}")
            for i in range(entries):
                history.add(
                    Entry(
                        1_700_000_000_000 + i * 1000,
                        an_id(),
                        random.random() * 100,
                        an_id(),
                        48.1 + random.random(),
                        11.5 + random.random(),
                        3,
                        10_000_000 + i,
                    ),
                    retention_ms=10**12,
                    max_entries=1000,
                )
            histories.append(history)
        measured, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert measured / 50 <= histories[0].approx_bytes(), entries


def test_the_newest_entry_read_before_a_record_ignores_what_a_replay_finds_stored_after_it():
    h = CardHistory("C1", [entry(100, "a", offset=1), entry(500, "b", offset=2), entry(900, "later", offset=8)])
    assert h.newest_read_before(0, 9) == 900
    assert h.newest_read_before(0, 5) == 500  # "later" was read after offset 5
    assert h.newest_read_before(0, 2) == 100  # the record itself does not count
    assert h.newest_read_before(1, 0) == 900  # another partition: no order known
    assert CardHistory("C2").newest_read_before(0, 0) is None
