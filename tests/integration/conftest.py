"""Fixtures the integration modules share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from bench import pipeline
from producer.simulator import Simulator

START_MS = 1_767_225_600_000  # 2026-01-01


@dataclass(frozen=True)
class History:
    """A job instance's namespace after it scored `days` of simulated traffic, confirmations included."""

    namespace: str
    deployment: object
    start_ms: int
    days: int
    feedback_delay_days: int

    def training_params(self) -> dict:
        """fraud_model_training params whose windows fit this history: labels known at the end of day 9,
        evaluation on days 7-8, training on days 1-6."""
        return {
            "namespace": self.namespace,
            "labels_known_at": "2026-01-10T00:00:00+00:00",
            "training_days": 6,
            "evaluation_days": 2,
            "feedback_delay_days": self.feedback_delay_days,
        }


@pytest.fixture(scope="session")
def pipeline_history():
    """8 days of 700 cards through a job of its own (a few undecodable records among them), every fraud
    confirmed a day after it happened, all committed to Iceberg. Built once per session (it takes minutes)
    for the modules that only read it or add to it: the marts (test_dbt_marts) and the model lifecycle
    (test_model_training)."""
    from include import scoring_job

    namespace = f"hist_{uuid.uuid4().hex[:8]}"
    deployment = pipeline.new_deployment(namespace)
    try:
        job_id = scoring_job.submit(deployment, parallelism=1)
        scoring_job.flink().wait_for_state(job_id, {"RUNNING"})
        items = list(Simulator(700, seed=977, start_ms=START_MS, days=8).transactions())
        sent = pipeline.produce(deployment, items, feedback_delay_days=1, bad_every=2000, bad_limit=4)
        pipeline.run_until_consumed(deployment, sent)
        pipeline.wait_until(
            lambda: pipeline.committed(deployment, "fraud_feedback") >= len(sent.feedback),
            120,
            "all confirmations in Iceberg",
        )
        yield History(namespace, deployment, START_MS, days=8, feedback_delay_days=1)
    finally:
        deployment.remove()
