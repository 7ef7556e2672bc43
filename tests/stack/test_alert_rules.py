"""The alert rules Prometheus loads (stack/prometheus/rules) are valid and behave as their unit tests
say: `promtool test rules` feeds each rule the series that should (and should not) raise it."""

from __future__ import annotations

import subprocess

import pytest

from include import settings

RULES = settings.REPO_ROOT / "stack" / "prometheus" / "rules"
PROMTOOL = "/usr/bin/promtool"  # Debian's prometheus package (stack/install.py)


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("rules", sorted(p.name for p in RULES.glob("*.rules.yml")))
def test_rules_are_valid(rules):
    result = _promtool("check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_when_it_should_and_only_then():
    tests = sorted(p.name for p in RULES.glob("*.rules.test.yml"))
    assert tests
    result = _promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_rule_has_a_test_and_names_its_severity_subject_and_summary():
    import yaml

    tested = "".join(p.read_text() for p in RULES.glob("*.rules.test.yml"))
    for path in RULES.glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:  # a recording rule: a short name, no alert
                    continue
                name = rule["alert"]
                assert rule["labels"]["severity"] in ("critical", "warning"), name
                assert rule["labels"]["subject"] and rule["annotations"]["summary"], name
                assert f"alertname: {name}" in tested, f"{name} has no promtool test"
