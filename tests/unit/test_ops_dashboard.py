"""The operators' dashboard page (include/ops_dashboard.py) and its server's cache, over a scripted
Prometheus (the integration test, tests/integration/test_monitoring.py, draws it from the real one)."""

from __future__ import annotations

from include import ops_dashboard
from stack.dashboard_server import CACHE_S, DashboardPage

END_S = 1_796_000_000.0


class ScriptedPrometheus:
    """Answers every range query whose text holds `present` with two series, the rest with none."""

    def __init__(self, present: str, alerts: list[dict] | None = None):
        self.present, self.alerts, self.queries = present, alerts or [], []

    def range(self, query: str, end_s: float) -> list[dict]:
        self.queries.append(query)
        if self.present not in query:
            return []
        values = [[end_s - 60 + 15 * i, str(v)] for i, v in enumerate((1.0, 2.5, "NaN", 4.0))]
        return [{"metric": {"reason": "malformed_json"}, "values": values}, {"metric": {}, "values": values}]

    def firing_alerts(self) -> list[dict]:
        return self.alerts


def test_every_panel_is_drawn_and_one_without_data_says_so():
    prometheus = ScriptedPrometheus("dead_letters")
    page = ops_dashboard.build(prometheus, end_s=END_S)
    panels = ops_dashboard.panels("fraud-scoring")
    assert page.count('<section class="panel">') == len(panels) == 8
    assert page.count("<svg") == 1 and "malformed_json" in page  # the legend names the reason
    assert page.count("No data in the last 30 minutes.") == 7
    assert all('job_name="fraud-scoring"' in q for q in prometheus.queries)
    assert "No alert firing." in page


def test_firing_alerts_are_listed_escaped():
    alert = {
        "labels": {"alertname": "CheckpointsStale", "severity": "critical"},
        "annotations": {"summary": "<b>x</b>"},
    }
    page = ops_dashboard.build(ScriptedPrometheus("none", [alert]), end_s=END_S)
    assert "<b>CheckpointsStale</b> (critical): &lt;b&gt;x&lt;/b&gt;" in page


def test_the_page_is_drawn_once_per_cache_period():
    now = [0.0]
    drawings = []
    page = DashboardPage(draw=lambda: drawings.append(1) or f"page {len(drawings)}", clock=lambda: now[0])
    assert page.current() == b"page 1"
    now[0] = CACHE_S - 0.1
    assert page.current() == b"page 1"
    now[0] = CACHE_S
    assert page.current() == b"page 2"
