"""The operators' dashboard: the scoring job's key graphs on one page, from Prometheus.

Served by stack/dashboard_server.py (behind the monitoring login). Each panel is one or more PromQL range
queries over the last WINDOW_S; the page is drawn on the server with matplotlib (inline SVG, as the
analysts' report), so it needs no JavaScript and nothing from outside. Why not Prometheus' console
templates: Debian's prometheus package ships the console libraries but not the classic UI assets they
load (Rickshaw, D3, jQuery), and Grafana is not obtainable here.

Panel queries use the recording rules' short names (stack/prometheus/rules/platform.rules.yml) where
there is one.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import requests  # noqa: E402

from include import settings  # noqa: E402
from include.report import svg  # noqa: E402

WINDOW_S = 30 * 60
STEP_S = 15
REFRESH_S = 30


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str  # the y axis
    queries: tuple[tuple[str, str], ...]  # (legend, PromQL); a legend with {label} takes it from each series
    log_scale: bool = False


def panels(job: str) -> tuple[Panel, ...]:
    """The dashboard's panels for the scoring job named `job`."""
    return (
        Panel(
            "Throughput",
            "records / s",
            (
                ("scored", f'fraud:records_scored:rate1m{{job_name="{job}"}}'),
                (
                    "read from Kafka",
                    f'sum(rate(flink_taskmanager_job_task_operator_numRecordsIn{{job_name="{job}",'
                    f'operator_name=~"Source.*"}}[1m]))',
                ),
            ),
        ),
        Panel(
            "Kafka consumer lag",
            "records behind",
            (("pending records", f'sum(flink_taskmanager_job_task_operator_pendingRecords{{job_name="{job}"}})'),),
        ),
        Panel(
            "Checkpoints",
            "seconds",
            (
                # A job that has completed none reports 0 (or -1): left out, not drawn as 56 years.
                (
                    "since the last completed",
                    f"time() - max by (job_name) "
                    f'(flink_jobmanager_job_lastCheckpointCompletedTimestamp{{job_name="{job}"}} > 0) / 1000',
                ),
                (
                    "duration of the last",
                    f'max by (job_name) (flink_jobmanager_job_lastCheckpointDuration{{job_name="{job}"}}) / 1000',
                ),
            ),
        ),
        Panel(
            "Job restarts",
            "restarts since the job started",
            (("restarts", f'max by (job_name) (flink_jobmanager_job_numRestarts{{job_name="{job}"}})'),),
        ),
        Panel(
            "Dead letters by reason",
            "records / s",
            (
                ("all reasons", f'sum by (job_name) (fraud:dead_letters:rate1m{{job_name="{job}"}})'),
                ("{reason}", f'fraud:dead_letters:rate1m{{job_name="{job}"}} > 0'),  # the reasons seen
            ),
        ),
        Panel(
            "Alert rate",
            "% of scored transactions",
            (
                (
                    "alerted",
                    f'100 * fraud:alerts:rate1m{{job_name="{job}"}} / fraud:records_scored:rate1m{{job_name="{job}"}}',
                ),
            ),
        ),
        Panel(
            "Detection latency of live transactions (event time to verdict)",
            "seconds",
            tuple(
                (f"p{q}", f'histogram_quantile(0.{q}, fraud:detection_seconds_bucket:rate5m{{job_name="{job}"}})')
                for q in (50, 95, 99)
            )
            + (
                (
                    "p99 of a UDF batch",
                    f'histogram_quantile(0.99, fraud:batch_seconds_bucket:rate5m{{job_name="{job}"}})',
                ),
            ),
            log_scale=True,
        ),
        Panel(
            "DynamoDB",
            "requests / s",
            (
                ("requests", f'fraud:dynamodb_requests:rate1m{{job_name="{job}"}}'),
                ("throttled", f'fraud:dynamodb_throttles:rate5m{{job_name="{job}"}}'),
            ),
        ),
    )


class Prometheus:
    """Prometheus' HTTP API, signed in as a person (MONITORING_USER)."""

    def __init__(self, url: str | None = None, auth: tuple[str, str] | None = None, timeout_s: float = 10):
        self.url = url or settings.get("PROMETHEUS_URL")
        self.auth = auth or (settings.get("MONITORING_USER"), settings.get("MONITORING_PASSWORD"))
        self.timeout_s = timeout_s

    def _get(self, path: str, **params) -> dict:
        answer = requests.get(f"{self.url}{path}", params=params, auth=self.auth, timeout=self.timeout_s)
        answer.raise_for_status()
        return answer.json()["data"]

    def range(self, query: str, end_s: float) -> list[dict]:
        """Series of `query` over WINDOW_S before `end_s`: [{"metric": {...}, "values": [[t, "v"], ...]}]."""
        return self._get("/api/v1/query_range", query=query, start=end_s - WINDOW_S, end=end_s, step=STEP_S)["result"]

    def firing_alerts(self) -> list[dict]:
        return [a for a in self._get("/api/v1/alerts")["alerts"] if a["state"] == "firing"]


def _legend(template: str, metric: dict) -> str:
    try:
        return template.format(**metric)
    except KeyError:
        return template


def _points(series: dict, end_s: float) -> tuple[list[datetime], list[float]]:
    """The series on the window's grid of steps, NaN where it has no value (a gap in the line, not a
    straight line across a time without traffic)."""
    values = {round(float(t)): float(v) for t, v in series["values"]}
    steps = range(round(end_s) - WINDOW_S, round(end_s) + 1, STEP_S)
    return (
        [datetime.fromtimestamp(t, UTC) for t in steps],
        [values.get(t, math.nan) for t in steps],
    )


def chart(panel: Panel, lines: list[tuple[str, list[datetime], list[float]]]) -> str:
    """The panel's SVG; `lines` are (legend, times, values), none of them empty."""
    figure, axis = plt.subplots(figsize=(6.2, 2.4))
    for legend, times, values in lines:
        axis.plot(times, values, linewidth=1.4, label=legend)
    if panel.log_scale:
        axis.set_yscale("log")
    else:
        axis.set_ylim(bottom=0)
    axis.set_ylabel(panel.unit, fontsize=8)
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)
    axis.legend(frameon=False, fontsize=7, loc="upper left")
    return svg(figure)


def panel_html(panel: Panel, prometheus: Prometheus, end_s: float) -> str:
    lines = []
    for template, query in panel.queries:
        for series in prometheus.range(query, end_s):
            times, values = _points(series, end_s)
            if any(math.isfinite(v) for v in values):
                lines.append((_legend(template, series["metric"]), times, values))
    body = chart(panel, lines) if lines else '<p class="empty">No data in the last 30 minutes.</p>'
    return f'<section class="panel"><h2>{html.escape(panel.title)}</h2>{body}</section>'


def alerts_html(alerts: list[dict]) -> str:
    if not alerts:
        return '<p class="ok">No alert firing.</p>'
    items = "".join(
        f"<li><b>{html.escape(a['labels'].get('alertname', ''))}</b> ({html.escape(a['labels'].get('severity', ''))}): "
        f"{html.escape(a.get('annotations', {}).get('summary', ''))}</li>"
        for a in alerts
    )
    return f'<ul class="firing">{items}</ul>'


STYLE = """
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1em; }
.panel { border: 1px solid #ddd; border-radius: 4px; padding: 0.5em; }
.panel h2 { font-size: 1em; margin: 0 0 0.3em; }
.panel svg { width: 100%; height: auto; }
.empty { color: #888; }
.ok { color: #2b8a3e; }
.firing { color: #c92a2a; }
"""


def build(prometheus: Prometheus | None = None, end_s: float | None = None) -> str:
    prometheus = prometheus or Prometheus()
    end_s = float(int(time.time())) if end_s is None else end_s  # whole seconds: the grid of _points
    job = settings.get("SCORING_JOB_NAME")
    drawn_panels = "".join(panel_html(panel, prometheus, end_s) for panel in panels(job))
    drawn = datetime.fromtimestamp(end_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>Fraud scoring: operations</title><style>{STYLE}</style></head><body>"
        f"<h1>Fraud scoring job {html.escape(job)}: the last 30 minutes</h1>"
        f"<p>Drawn {drawn} from Prometheus; refreshes every {REFRESH_S} s.</p>"
        f"<h2>Firing alerts</h2>{alerts_html(prometheus.firing_alerts())}"
        f'<div class="grid">{drawn_panels}</div></body></html>'
    )
