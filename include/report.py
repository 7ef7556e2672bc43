"""The fraud analysts' report: one HTML page with charts, generated from the marts after each dbt run.

  python -m include.report [--schema fraud] [--out DIR]

Reads the marts through Trino, draws the charts with matplotlib (inline SVG: the page needs nothing
else), and writes DIR/index.html (default $DATA_DIR/report, which the stack serves on REPORT_PORT).
"""

from __future__ import annotations

import argparse
import html
import io
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from include import settings  # noqa: E402
from include.lakehouse import trino_connection  # noqa: E402


def query(sql: str) -> pd.DataFrame:
    with trino_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return pd.DataFrame(cursor.fetchall(), columns=[c[0] for c in cursor.description])


def svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def chart_daily_kpis(kpis: pd.DataFrame) -> str:
    figure, left = plt.subplots(figsize=(9, 3.2))
    left.bar(kpis["event_date"], kpis["transactions"], color="#c9d6e8", label="transactions")
    left.set_ylabel("transactions per day")
    right = left.twinx()
    right.plot(kpis["event_date"], kpis["alerts"], color="#d9480f", marker="o", markersize=3, label="alerts")
    right.plot(
        kpis["event_date"],
        kpis["confirmed_frauds"],
        color="#2b8a3e",
        marker="s",
        markersize=3,
        label="confirmed frauds",
    )
    right.set_ylabel("alerts, frauds")
    figure.legend(loc="upper left", bbox_to_anchor=(0.07, 0.95), frameon=False, fontsize=8)
    figure.autofmt_xdate()
    return svg(figure)


def chart_quality(quality: pd.DataFrame) -> str:
    figure, axis = plt.subplots(figsize=(9, 3.2))
    for column, colour, label in (
        ("precision", "#1971c2", "precision"),
        ("recall", "#d9480f", "recall"),
        ("card_precision_at_k", "#2b8a3e", "card precision@100"),
        ("alerted_card_precision", "#862e9c", "precision of the alerted cards"),
    ):
        axis.plot(quality["event_date"], quality[column], marker="o", markersize=3, color=colour, label=label)
    axis.set_ylim(0, 1.05)
    axis.legend(frameon=False, fontsize=8)
    figure.autofmt_xdate()
    return svg(figure)


# Terminals ranked by fraud rate need this many transactions: over fewer, a rate is noise (one fraud in
# its only transaction reads 100 %, and fifteen such terminals make fifteen identical bars).
MIN_TERMINAL_TRANSACTIONS = 20


def chart_top_terminals(terminals: pd.DataFrame) -> str:
    top = terminals.head(15).iloc[::-1]
    figure, axis = plt.subplots(figsize=(9, 3.8))
    labels = (
        top["terminal_id"]
        + " ("
        + top["merchant_category"]
        + ", "
        + top["confirmed_frauds"].astype(str)
        + " of "
        + top["transactions"].astype(str)
        + ")"
    )
    axis.barh(labels, top["fraud_rate"] * 100, color="#c92a2a")
    axis.set_xlabel("confirmed frauds, % of the terminal's transactions")
    return svg(figure)


def chart_latency(live: pd.DataFrame) -> str:
    """Percentiles of the days with live alerts (`live` holds only those)."""
    figure, axis = plt.subplots(figsize=(9, 3.2))
    for column, colour in (("latency_p50_ms", "#1971c2"), ("latency_p95_ms", "#f08c00"), ("latency_p99_ms", "#c92a2a")):
        axis.plot(
            live["event_date"],
            live[column] / 1000,
            marker="o",
            markersize=3,
            color=colour,
            label=column.split("_")[1],
        )
    axis.set_yscale("log")
    axis.set_ylabel("seconds, event time to detection")
    axis.legend(frameon=False, fontsize=8)
    figure.autofmt_xdate()
    return svg(figure)


def latency_section(latency: pd.DataFrame) -> str:
    """The live alerts' latency, and how many alerts came from replays (their delay is the data's age)."""
    if not len(latency):
        return "<p>No alerts yet.</p>"
    replayed = int(latency["replayed_alerts"].sum())
    apart = (
        f"<p>{replayed:,} alerts scored more than an hour after their transaction (replays, backfills) are "
        "left out: their delay is the age of the data, not the pipeline's latency.</p>"
        if replayed
        else ""
    )
    live = latency[latency["live_alerts"] > 0]
    if not len(live):
        return f"<p>No live alerts yet: nothing to measure.</p>{apart}"
    return chart_latency(live) + apart


def table(frame: pd.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(row[c])}</td>" for c in columns) + "</tr>" for _, row in frame.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"  # no alerts, no frauds: no ratio
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return html.escape(str(value))


def build(schema: str) -> str:
    marts = f"{schema}_marts"
    kpis = query(f"select * from {marts}.fct_daily_fraud_kpis order by event_date")
    quality = query(f"select * from {marts}.fct_detection_quality_daily order by event_date")
    terminals = query(
        f"select * from {marts}.fct_fraud_by_terminal "
        f"where confirmed_frauds > 0 and transactions >= {MIN_TERMINAL_TRANSACTIONS} "
        "order by fraud_rate desc, confirmed_frauds desc, terminal_id limit 15"
    )
    patterns = query(f"select * from {marts}.fct_detection_quality_by_pattern order by frauds desc")
    latency = query(f"select * from {marts}.fct_alert_latency_daily order by event_date")
    totals = kpis[["transactions", "alerts", "confirmed_frauds", "detected_frauds"]].sum()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        ("Daily volume, alerts and confirmed frauds", chart_daily_kpis(kpis) if len(kpis) else "<p>No data yet.</p>"),
        (
            "Detection quality over time (handbook protocol: cards known compromised that day left out)",
            chart_quality(quality) if len(quality) else "<p>No data yet.</p>",
        ),
        (
            f"Riskiest terminals (by fraud rate, among those with {MIN_TERMINAL_TRANSACTIONS}+ transactions)",
            chart_top_terminals(terminals)
            if len(terminals)
            else f"<p>No terminal with {MIN_TERMINAL_TRANSACTIONS}+ transactions has a confirmed fraud yet.</p>",
        ),
        (
            "Detection by fraud pattern (handbook protocol; recall over all cards beside it)",
            table(patterns, ["fraud_pattern", "frauds", "detected", "recall", "recall_all_cards", "avg_score"]),
        ),
        (
            "Analysts' budget: cards alerted per day, and how many were compromised (last 14 days)",
            table(
                quality.tail(14),
                ["event_date", "alerted_cards", "alerted_compromised_cards", "alerted_card_precision"],
            )
            if len(quality)
            else "<p>No data yet.</p>",
        ),
        ("Alert latency of live traffic", latency_section(latency)),
    ]
    body = "".join(f"<section><h2>{html.escape(title)}</h2>{content}</section>" for title, content in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fraud report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #212529; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #868e96; margin-top: .2rem; }}
.tiles {{ display: flex; gap: 1rem; margin: 1.5rem 0; }}
.tile {{ flex: 1; background: #f1f3f5; border-radius: 8px; padding: .8rem 1rem; }}
.tile b {{ display: block; font-size: 1.6rem; }}
section {{ margin: 2rem 0; }} svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
td, th {{ border-bottom: 1px solid #dee2e6; padding: .3rem .5rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
</style></head><body>
<h1>Card fraud report</h1>
<p class="sub">Marts <code>{html.escape(marts)}</code>, generated {generated}</p>
<div class="tiles">
<div class="tile" id="tile-transactions"><b>{int(totals.get("transactions", 0)):,}</b>transactions</div>
<div class="tile" id="tile-alerts"><b>{int(totals.get("alerts", 0)):,}</b>alerts</div>
<div class="tile" id="tile-frauds"><b>{int(totals.get("confirmed_frauds", 0)):,}</b>confirmed frauds</div>
<div class="tile" id="tile-detected"><b>{int(totals.get("detected_frauds", 0)):,}</b>of them alerted</div>
</div>
{body}
</body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schema", default=settings.get("ICEBERG_NAMESPACE"), help="dbt target schema")
    parser.add_argument("--out", type=Path, default=Path(settings.get("REPORT_DIR")))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    page = args.out / "index.html"
    page.write_text(build(args.schema))
    print(f"[report] {page}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
