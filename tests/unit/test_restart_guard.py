"""include/job_health.RestartGuard: the health DAG restarts a dead job at most N times in a window."""

from __future__ import annotations

from include.job_health import RestartGuard

GUARD = RestartGuard(max_restarts=3, window_s=3600)


def test_restarts_are_allowed_until_the_bound_within_the_window():
    now = 100_000.0
    assert GUARD.allows([], now)
    assert GUARD.allows([now - 600, now - 300], now)
    assert not GUARD.allows([now - 900, now - 600, now - 300], now)


def test_restarts_older_than_the_window_no_longer_count():
    now = 100_000.0
    old = [now - 7200, now - 5000, now - 3601]
    assert GUARD.recent(old + [now - 10], now) == [now - 10]
    assert GUARD.allows(old, now)


def test_a_bound_of_zero_never_restarts():
    assert not RestartGuard(max_restarts=0).allows([], 1.0)


def test_a_restart_within_the_transaction_timeout_loses_nothing_on_kafka():
    from include.job_health import late_restart_warning

    assert late_restart_warning(down_s=6 * 60, transaction_timeout_s=900) is None
    warning = late_restart_warning(down_s=20 * 60, transaction_timeout_s=900)
    assert warning and "down 20 min" in warning and "15 min" in warning and "dead_letters" in warning
