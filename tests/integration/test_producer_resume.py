"""The producer CLI against the real broker: a run told to skip the messages an earlier run delivered
(`--resume-after N`, what the backfill DAG's retries do) sends exactly the rest of the same stream."""

from __future__ import annotations

import collections

from bench.pipeline import read_topic
from include import kafka_admin
from producer import files
from producer.cli import main
from producer.simulator import Simulator
from producer.timeline import FEEDBACK, messages

START_MS = 1_767_225_600_000  # 2026-01-01
DAY_MS = 86_400_000


def test_a_rerun_resuming_after_n_messages_sends_exactly_the_rest(unique_name, tmp_path):
    items = list(Simulator(40, seed=8080, start_ms=START_MS, days=3).transactions())
    path = tmp_path / "stream.jsonl.gz"
    files.write_project(path, items)
    stream = list(messages(items, DAY_MS, bad_every=50, bad_limit=3))
    resume_after = len(stream) // 3
    runs = {}
    try:
        for run, skip in (("whole", 0), ("rest", resume_after)):
            topics = {kind: f"{unique_name}_{run}_{kind}" for kind in ("tx", "feedback")}
            kafka_admin.create_topics({name: (1, {}) for name in topics.values()})
            summaries = []
            code = main(
                [
                    "replay",
                    str(path),
                    "--format",
                    "project",
                    "--feedback-delay-days",
                    "1",
                    "--bad-records",
                    "3",
                    "--bad-every",
                    "50",
                    "--quiet",
                    "--topic",
                    topics["tx"],
                    "--feedback-topic",
                    topics["feedback"],
                    "--resume-after",
                    str(skip),
                ],
                on_exit=summaries.append,
            )
            assert code == 0 and summaries[0].delivered == len(stream)
            runs[run] = {kind: collections.Counter(read_topic(name, decode=bytes)) for kind, name in topics.items()}
    finally:
        kafka_admin.delete_topics(
            [f"{unique_name}_{run}_{kind}" for run in ("whole", "rest") for kind in ("tx", "feedback")]
        )

    def expected(part: list) -> dict[str, collections.Counter]:
        return {
            kind: collections.Counter((m.key, m.value) for m in part if (m.kind == FEEDBACK) == (kind == "feedback"))
            for kind in ("tx", "feedback")
        }

    assert runs["whole"] == expected(stream)
    assert runs["rest"] == expected(stream[resume_after:])
