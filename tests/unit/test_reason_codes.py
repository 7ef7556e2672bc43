"""Every reason code the job can give a dead letter is one the staging model of dead letters accepts
(dbt_project/models/staging/stg_dead_letters.yml), and the other way round; and one the UDF's metrics
report from the job's first batch (include/scoring/batch_report.py)."""

from __future__ import annotations

import re

import yaml

from include import settings
from include.scoring.batch_report import REJECTION_CODES

SOURCES = [
    "include/messages.py",
    "include/transactions.py",
    "include/scoring/feedback.py",
    "include/scoring/scorer.py",
    "include/scoring/verdicts.py",
]


def codes_in_code() -> set[str]:
    found = set()
    for source in SOURCES:
        text = (settings.REPO_ROOT / source).read_text()
        found |= set(re.findall(r'Rejected\(\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'reject_reason = \(?\s*f?"([a-z_]+):', text))
        found |= set(re.findall(r'"(invalid_[a-z_]+)"\)', text))  # codes handed to a helper
    return found


def test_every_reason_code_is_accepted_by_the_staging_model():
    doc = yaml.safe_load((settings.REPO_ROOT / "dbt_project/models/staging/stg_dead_letters.yml").read_text())
    [column] = [c for c in doc["models"][0]["columns"] if c["name"] == "reason_code"]
    [accepted] = [t["accepted_values"]["arguments"]["values"] for t in column["data_tests"] if isinstance(t, dict)]
    assert codes_in_code() == set(accepted)


def test_every_reason_code_has_its_dead_letter_counter_from_the_start():
    assert codes_in_code() == set(REJECTION_CODES)
