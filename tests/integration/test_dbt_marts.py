"""dbt on Trino over what the pipeline wrote: `dbt build` passes, the marts' numbers equal an independent
computation over the same Iceberg data (pyiceberg + pandas), a second incremental run adds no row, and
the report page built from the marts renders in a real browser (Chromium). The data holds the
duplicate transaction ids the job cannot reject (a rollback's replay, the same id on another card, an id
repeated beyond the card's history horizon): they must not break the build, and count once."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bench import pipeline
from include import quality, report, settings
from include.lakehouse import iceberg_catalog, trino_query
from producer.simulator import Simulator
from tests.integration import chromium

pytestmark = pytest.mark.slow

DBT_PROJECT = settings.REPO_ROOT / "dbt_project"


def dbt(namespace: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ICEBERG_NAMESPACE": namespace,
        "DBT_SCHEMA": namespace,
        "TRINO_PORT": settings.get("TRINO_PORT"),
        "TRINO_HOST": settings.get("BIND_HOST"),
        "TRINO_USER": settings.get("TRINO_USER"),
        "TRINO_PASSWORD": settings.get("TRINO_PASSWORD"),
        "TRINO_CA_FILE": settings.get("TRINO_CA_FILE"),
    }
    return subprocess.run(
        [
            str(Path(settings.get("VENV_DIR")) / "dbt" / "bin" / "dbt"),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            f"target-{namespace}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def marts(namespace: str, model: str) -> pd.DataFrame:
    from include.report import query

    return query(f"select * from {namespace}_marts.{model}")


@pytest.fixture(scope="module")
def built(pipeline_history):
    """The shared pipeline data (8 days, frauds confirmed a day later) with duplicates added, then one
    `dbt build`."""
    namespace = pipeline_history.namespace
    try:
        add_duplicates(namespace)
        build = dbt(namespace, "build")
        yield namespace, build
    finally:
        for layer in ("marts", "intermediate", "staging"):
            schema = f"{namespace}_{layer}"
            for name, kind in trino_query(
                f"select table_name, table_type from information_schema.tables where table_schema = '{schema}'"
            ):
                trino_query(f"drop {'view' if kind == 'VIEW' else 'table'} {schema}.{name}")
            trino_query(f"drop schema if exists {schema}")
        subprocess.run(["rm", "-rf", str(DBT_PROJECT / f"target-{namespace}")], check=False)


def add_duplicates(namespace: str) -> None:
    """Rows with a tx_id already in the table, written an hour after the first: 20 copies (a rollback to
    an old savepoint scores them again), 10 on another card, 5 with an event time 45 days later (beyond
    the card's history horizon, where the job no longer knows the id)."""
    table = iceberg_catalog().load_table(f"{namespace}.scored_transactions")
    rows = table.scan().to_arrow().to_pylist()[:35]
    for i, row in enumerate(rows):
        row["scored_at"] += timedelta(hours=1)
        if 20 <= i < 30:
            row["card_id"] = f"C9{row['card_id'][2:]}"
        elif i >= 30:
            row["event_time"] += timedelta(days=45)
            row["event_date"] = row["event_time"].date()
    duplicates = pa.Table.from_pylist(rows, schema=table.schema().as_arrow())
    for _ in range(5):  # the running job may commit meanwhile
        try:
            table.append(duplicates)
            return
        except Exception:  # noqa: BLE001 - a concurrent commit: reload and retry
            time.sleep(1)
            table = iceberg_catalog().load_table(f"{namespace}.scored_transactions")
    raise AssertionError("could not append the duplicates")


@pytest.fixture(scope="module")
def truth(built):
    """The same numbers, computed with pandas from the Iceberg tables the marts read."""
    namespace, _ = built
    catalog = iceberg_catalog()
    scored = (
        catalog.load_table(f"{namespace}.scored_transactions")
        .scan(
            selected_fields=(
                "tx_id",
                "card_id",
                "terminal_id",
                "amount",
                "event_time",
                "score",
                "decision",
                "scored_at",
                "kafka_partition",
                "kafka_offset",
            )
        )
        .to_pandas()
    )
    assert scored["tx_id"].duplicated().sum() == 35
    # of rows with one tx_id, the first scored counts (stg_scored_transactions)
    scored = scored.sort_values(["scored_at", "kafka_partition", "kafka_offset"]).drop_duplicates("tx_id")
    feedback = (
        catalog.load_table(f"{namespace}.fraud_feedback")
        .scan(selected_fields=("tx_id", "card_id", "confirmed_at", "fraud_pattern"))
        .to_pandas()
        .drop_duplicates("tx_id")
    )
    frame = scored.merge(feedback[["tx_id", "fraud_pattern"]], on="tx_id", how="left")
    frame["is_fraud"] = frame["fraud_pattern"].notna()
    frame["is_alert"] = frame["decision"] == "ALERT"
    frame["event_date"] = frame["event_time"].dt.tz_convert("UTC").dt.date
    # the handbook's protocol, as include/quality.py applies it: the marts must leave out the same rows
    frame["known"] = quality.known_compromised(frame, feedback)
    assert frame["known"].any() and not frame["known"].all()
    return frame


def test_dbt_build_passes_on_pipeline_data(built):
    _, build = built
    assert build.returncode == 0, build.stdout[-4000:]
    assert "ERROR=0" in build.stdout and "PASS=" in build.stdout


def test_daily_kpis_equal_an_independent_computation(built, truth):
    namespace, _ = built
    mart = marts(namespace, "fct_daily_fraud_kpis").set_index("event_date").sort_index()
    expected = (
        truth.groupby("event_date")
        .agg(
            transactions=("tx_id", "size"),
            amount=("amount", "sum"),
            alerts=("is_alert", "sum"),
            confirmed_frauds=("is_fraud", "sum"),
            detected_frauds=("is_fraud", lambda s: int((s & truth.loc[s.index, "is_alert"]).sum())),
            fraud_amount=("amount", lambda s: s[truth.loc[s.index, "is_fraud"]].sum()),
            amount_at_risk=("amount", lambda s: s[truth.loc[s.index, "is_alert"]].sum()),
        )
        .sort_index()
    )
    assert list(mart.index) == list(expected.index)
    for column in expected.columns:
        np.testing.assert_allclose(
            mart[column].astype(float), expected[column].astype(float), rtol=1e-9, err_msg=column
        )
    assert expected["confirmed_frauds"].sum() > 0 and expected["alerts"].sum() > 0


def test_detection_quality_equals_an_independent_computation(built, truth):
    namespace, _ = built
    mart = marts(namespace, "fct_detection_quality_daily").set_index("event_date").sort_index()
    for day, day_rows in truth.groupby("event_date"):
        got = mart.loc[day]
        assert got["known_compromised_transactions"] == int(day_rows["known"].sum())
        for suffix, rows in (("", day_rows[~day_rows["known"]]), ("_all_cards", day_rows)):
            tp = int((rows["is_alert"] & rows["is_fraud"]).sum())
            alerts, frauds = int(rows["is_alert"].sum()), int(rows["is_fraud"].sum())
            cards = rows.groupby("card_id").agg(score=("score", "max"), fraud=("is_fraud", "max")).reset_index()
            top = cards.sort_values(["score", "card_id"], ascending=[False, True]).head(100)
            assert got[f"transactions{suffix}"] == len(rows)
            assert got[f"true_positives{suffix}"] == tp
            assert got[f"precision{suffix}"] == pytest.approx(tp / alerts if alerts else np.nan, nan_ok=True)
            assert got[f"recall{suffix}"] == pytest.approx(tp / frauds if frauds else np.nan, nan_ok=True)
            assert got[f"card_precision_at_k{suffix}"] == pytest.approx(top["fraud"].sum() / 100)
        unknown_cards = day_rows[~day_rows["known"]].groupby("card_id")[["is_alert", "is_fraud"]].max()
        alerted = unknown_cards[unknown_cards["is_alert"]]
        assert got["alerted_cards"] == len(alerted)
        assert got["alerted_compromised_cards"] == int(alerted["is_fraud"].sum())
        assert got["within_analyst_budget"] == (len(alerted) <= 100)
    assert mart["alerted_cards"].sum() > 0


def test_terminal_card_and_pattern_marts_equal_an_independent_computation(built, truth):
    namespace, _ = built
    terminals = marts(namespace, "fct_fraud_by_terminal").set_index("terminal_id")
    expected = truth.groupby("terminal_id").agg(
        transactions=("tx_id", "size"), confirmed_frauds=("is_fraud", "sum"), alerts=("is_alert", "sum")
    )
    pd.testing.assert_frame_equal(
        terminals[expected.columns].sort_index().astype("int64"),
        expected.sort_index().astype("int64"),
        check_names=False,
    )
    cards = marts(namespace, "dim_card_risk").set_index("card_id")
    expected_cards = truth.groupby("card_id").agg(transactions=("tx_id", "size"), confirmed_frauds=("is_fraud", "sum"))
    pd.testing.assert_frame_equal(
        cards[expected_cards.columns].sort_index().astype("int64"),
        expected_cards.sort_index().astype("int64"),
        check_names=False,
    )
    patterns = marts(namespace, "fct_detection_quality_by_pattern").set_index("fraud_pattern")
    frauds = truth[truth["is_fraud"]].assign(unknown=lambda f: ~f["known"])
    expected_patterns = frauds.groupby("fraud_pattern").agg(
        frauds=("unknown", "sum"),
        detected=("is_alert", lambda alerted: int((alerted & frauds.loc[alerted.index, "unknown"]).sum())),
        frauds_all_cards=("tx_id", "size"),
        detected_all_cards=("is_alert", "sum"),
    )
    pd.testing.assert_frame_equal(
        patterns[expected_patterns.columns].sort_index().astype("int64"),
        expected_patterns.sort_index().astype("int64"),
        check_names=False,
    )


def test_a_second_incremental_run_adds_no_rows(built):
    namespace, _ = built
    before = marts(namespace, "fct_daily_fraud_kpis").sort_values("event_date").reset_index(drop=True)
    again = dbt(namespace, "run", "--select", "fct_daily_fraud_kpis")
    assert again.returncode == 0, again.stdout[-3000:]
    after = marts(namespace, "fct_daily_fraud_kpis").sort_values("event_date").reset_index(drop=True)
    assert after["event_date"].is_unique
    pd.testing.assert_frame_equal(after, before)


def test_sources_are_fresh_and_docs_generate(built):
    namespace, _ = built
    freshness = dbt(namespace, "source", "freshness")
    assert freshness.returncode == 0, freshness.stdout[-3000:]
    docs = dbt(namespace, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-3000:]
    assert (DBT_PROJECT / f"target-{namespace}" / "catalog.json").exists()


def test_the_report_renders_in_chromium(built, tmp_path):
    namespace, _ = built
    assert report.main(["--schema", namespace, "--out", str(tmp_path)]) == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    shot_path = chromium.output_dir() / "report.png"
    try:
        dom = chromium.dump_dom(url, tmp_path / "profile")
        shot = chromium.screenshot(url, shot_path, tmp_path / "profile")
    finally:
        server.shutdown()
    kpis = marts(namespace, "fct_daily_fraud_kpis")
    assert f"<b>{int(kpis['transactions'].sum()):,}</b>transactions" in dom
    assert f"<b>{int(kpis['alerts'].sum()):,}</b>alerts" in dom
    for title in (
        "Daily volume",
        "Detection quality over time",
        "Riskiest terminals",
        "Analysts' budget",
        "Alert latency of live traffic",
    ):
        assert title in dom
    # Terminals are ranked by fraud rate among those with enough transactions; this data happened in January
    # and is scored now, so every alert is a replay: no latency is drawn, the page says why.
    terminals = marts(namespace, "fct_fraud_by_terminal")
    ranked = (
        (terminals["confirmed_frauds"] > 0) & (terminals["transactions"] >= report.MIN_TERMINAL_TRANSACTIONS)
    ).any()
    latency = marts(namespace, "fct_alert_latency_daily")
    assert latency["live_alerts"].sum() == 0 and latency["latency_p50_ms"].isna().all()
    assert latency["replayed_alerts"].sum() == kpis["alerts"].sum() > 0
    assert "No live alerts yet" in dom and f"{int(kpis['alerts'].sum()):,} alerts scored more than an hour" in dom
    assert dom.count("<svg") == 2 + int(ranked), "a chart is missing, or one is drawn with nothing to show"
    import matplotlib.image

    assert shot.returncode == 0, shot.stderr[-2000:]
    pixels = matplotlib.image.imread(shot_path)
    assert pixels.shape[0] >= 2000 and pixels.std() > 0.05, "the page rendered blank"


def test_the_stack_serves_the_directory_the_report_is_written_to(unique_name):
    import requests

    login = (settings.get("TRINO_USER"), settings.get("TRINO_PASSWORD"))  # the analysts' login
    assert requests.get(settings.get("REPORT_URL") + "/", auth=login, timeout=10).status_code == 200
    # The index may still be the placeholder of a fresh stack: check the page server with a file of our own.
    page = Path(settings.get("REPORT_DIR")) / f"{unique_name}.html"
    page.write_text(f"<p>{unique_name}</p>")
    try:
        served = requests.get(f"{settings.get('REPORT_URL')}/{page.name}", auth=login, timeout=10)
        assert served.status_code == 200 and unique_name in served.text
    finally:
        page.unlink()


def test_a_backfill_into_a_past_day_reaches_the_incremental_mart(built, pipeline_history):
    """Replays and backfills score transactions into days the mart already holds: the next incremental
    run must rebuild those days (judged by arrival, not event date) and leave the others alone."""
    namespace, _ = built
    deployment = pipeline.new_deployment(namespace)  # the running instance (topics exist: no-op)
    before = marts(namespace, "fct_daily_fraud_kpis").set_index("event_date")
    in_iceberg = pipeline.committed(deployment, "scored_transactions")
    late = list(
        Simulator(40, seed=978, start_ms=pipeline_history.start_ms + 2 * pipeline.DAY_MS, days=1).transactions()
    )
    sent = pipeline.produce(deployment, late, feedback_delay_days=30)  # labels would come later
    pipeline.wait_until(
        lambda: pipeline.committed(deployment, "scored_transactions") >= in_iceberg + len(sent.valid),
        300,
        "the backfill in Iceberg",
    )
    # The staging views read the sources as of their build: they are rebuilt too, to see the backfill.
    rerun = dbt(namespace, "run", "--select", "+fct_daily_fraud_kpis")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    after = marts(namespace, "fct_daily_fraud_kpis").set_index("event_date")

    late_days = pd.Series([pd.Timestamp(i.tx.event_ms, unit="ms", tz="UTC").date() for i in late]).value_counts()
    added = (after["transactions"] - before["transactions"].reindex(after.index, fill_value=0)).astype("int64")
    assert added[added != 0].sort_index().to_dict() == late_days.sort_index().to_dict()
    assert after.index.is_unique


def test_every_mart_column_is_described(built):
    """Each column of each built mart has a description in its YAML (what analysts read in dbt docs)."""
    import yaml

    namespace, _ = built
    described = {}
    for path in (DBT_PROJECT / "models" / "marts").glob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            described[model["name"]] = {c["name"] for c in model.get("columns", []) if c.get("description")}
    rows = trino_query(
        "select table_name, column_name from lakehouse.information_schema.columns "
        f"where table_schema = '{namespace}_marts'"
    )
    built_columns: dict[str, set[str]] = {}
    for table, column in rows:
        built_columns.setdefault(table, set()).add(column)
    assert set(built_columns) == set(described)
    missing = {table: sorted(columns - described[table]) for table, columns in built_columns.items()}
    assert {table: cols for table, cols in missing.items() if cols} == {}
