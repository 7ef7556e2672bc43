"""The report's sections say what their numbers mean: alert latency is drawn for live alerts only, alerts
from replays are counted apart, and a section with nothing to show says so."""

from __future__ import annotations

from datetime import date

import pandas as pd

from include.report import latency_section


def latency(days: list[tuple[date, int, int, float | None]]) -> pd.DataFrame:
    """fct_alert_latency_daily rows: (event_date, live_alerts, replayed_alerts, latency_p50_ms)."""
    return pd.DataFrame(
        [
            {
                "event_date": day,
                "alerts": live + replayed,
                "live_alerts": live,
                "replayed_alerts": replayed,
                "latency_p50_ms": p50,
                "latency_p95_ms": None if p50 is None else p50 * 2,
                "latency_p99_ms": None if p50 is None else p50 * 3,
            }
            for day, live, replayed, p50 in days
        ]
    )


def test_only_replayed_alerts_draw_no_latency_and_say_why():
    section = latency_section(latency([(date(2026, 1, 1), 0, 1_200, None), (date(2026, 1, 2), 0, 34, None)]))
    assert "<svg" not in section
    assert "No live alerts yet" in section and "1,234 alerts scored more than an hour" in section


def test_live_alerts_are_drawn_and_replayed_ones_counted_apart():
    section = latency_section(latency([(date(2026, 1, 1), 0, 500, None), (date(2026, 1, 2), 40, 0, 180.0)]))
    assert "<svg" in section and "No live alerts" not in section
    assert "500 alerts scored more than an hour" in section


def test_all_live_mentions_no_replay():
    section = latency_section(latency([(date(2026, 1, 2), 40, 0, 180.0)]))
    assert "<svg" in section and "more than an hour" not in section


def test_no_alert_at_all():
    assert latency_section(latency([])) == "<p>No alerts yet.</p>"
