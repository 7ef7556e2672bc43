"""
### Producer backfill

Streams transactions into Kafka with the project's producer (idempotent, keyed by card, delivery
reports checked), confirmations of frauds following on `fraud_feedback` after the feedback delay:

* `mode = simulate`: `cards` simulated cards over `days` days from `start` (deterministic per `seed`);
* `mode = replay`: the file at `path`, in event-time order (`format = project` or `handbook`).

`rate` is transactions per second (0 = as fast as possible); `count` stops early. Progress is logged
every few seconds; the last line is the summary (sent, failed, rate).

A retry resumes where the failed try stopped: each try records how many messages of the stream it
delivered (Airflow Variable `producer_backfill.delivered.<run id>`), and the next one skips them.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from include.failure_notices import task_defaults


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "kafka", "backfill"],
    is_paused_upon_creation=False,
    # Months of history at the producer's default rate; a longer backfill raises it.
    default_args=task_defaults(execution_timeout=timedelta(hours=6)),
    params={
        "mode": Param("simulate", enum=["simulate", "replay"]),
        "path": Param(None, type=["null", "string"]),
        "format": Param("project", enum=["project", "handbook"]),
        "cards": Param(2000, type="integer", minimum=1),
        "days": Param(7, type="integer", minimum=1),
        "start": Param(None, type=["null", "string"], description="first day, e.g. 2026-11-01"),
        "seed": Param(42, type="integer"),
        "rate": Param(0, type="number", minimum=0),
        "count": Param(None, type=["null", "integer"]),
        "feedback_delay_days": Param(7.0, type="number", minimum=0),
        "bad_records": Param(0, type="integer", minimum=0),
    },
    doc_md=__doc__,
)
def producer_backfill():
    @task
    def produce() -> None:
        """Sends the stream the params describe, after the messages earlier tries of this run delivered."""
        from airflow.sdk import Variable, get_current_context

        from include import airflow_connections
        from producer.cli import main

        airflow_connections.export_to_settings()
        context = get_current_context()
        p = context["params"]
        progress = f"producer_backfill.delivered.{context['run_id']}"
        argv = [p["mode"]]
        if p["mode"] == "replay":
            argv += [p["path"], "--format", p["format"]]
        else:
            argv += ["--cards", str(p["cards"]), "--days", str(p["days"]), "--seed", str(p["seed"])]
            # Without a start, the simulated days end when the run was scheduled: every try sends the same stream.
            start = p["start"] or (context["dag_run"].run_after - timedelta(days=p["days"])).isoformat()
            argv += ["--start", start]
        argv += [
            "--rate",
            str(p["rate"]),
            "--feedback-delay-days",
            str(p["feedback_delay_days"]),
            "--bad-records",
            str(p["bad_records"]),
        ]
        argv += ["--count", str(p["count"])] if p["count"] else []
        argv += ["--resume-after", Variable.get(progress, default="0")]
        if main(argv, on_exit=lambda summary: Variable.set(progress, str(summary.delivered))) != 0:
            raise RuntimeError("some messages were not delivered (see the log); a retry sends the rest")
        Variable.delete(progress)

    produce()


producer_backfill()
