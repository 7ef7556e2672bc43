"""The scoring configuration (include/scoring/scoring.yaml) as typed, validated objects."""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from include.scoring.feature_names import FEATURES

DEFAULT_PATH = Path(__file__).resolve().parent / "scoring.yaml"

# A model in the registry (include/model_registry.py): by alias or by version number.
REGISTRY_URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))$")

CAPACITY = "capacity"  # model.alert_threshold: the registered version's cut-off for the analysts' budget

OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}


@dataclass(frozen=True)
class Rule:
    code: str
    feature: str
    op: str
    threshold: float
    weight: float

    def fires(self, value: float | None) -> bool:
        return value is not None and value == value and self.compare(value, self.threshold)

    @functools.cached_property
    def compare(self):
        return OPERATORS[self.op]


@dataclass(frozen=True)
class ScoringConfig:
    version: int
    alert_threshold: float
    retention_ms: int
    max_entries: int
    max_entries_used: int
    feedback_margin_ms: int
    feedback_windows_ms: dict[str, int]
    count_windows_ms: dict[str, int]
    sum_windows_ms: dict[str, int]
    tiny_amount: float
    night_hours: tuple[int, int]
    model_uri: str | None
    model_sha256: str | None  # the published model file's digest, pinned (include/scoring/model.py)
    rules: tuple[Rule, ...]
    # "capacity": with a registered model, the deploy replaces alert_threshold by the version's own cut-off
    # for the analysts' daily budget of cards (include/model_registry.py: pin); None: alert_threshold as set.
    model_threshold_policy: str | None = None

    @property
    def registered_model(self) -> str | None:
        """The name of the registered model `model_uri` refers to (models:/<name>@<alias>), if it does."""
        match = REGISTRY_URI.match(self.model_uri or "")
        return match["name"] if match else None

    @property
    def longest_window_ms(self) -> int:
        return max(self.all_windows_ms)

    @property
    def history_horizon_ms(self) -> int:
        """How much older than a card's newest transaction a transaction may be and still be scored from
        a complete history: the history keeps `retention_ms` behind its newest entry, and the windows
        reach `longest_window_ms` behind the transaction."""
        return self.retention_ms - self.longest_window_ms

    @property
    def feedback_keep_ms(self) -> int:
        """How long confirmed frauds stay in the scorer's index (include/scoring/feedback.py): as long as
        card histories, plus the margin a confirmation waits before it counts."""
        return self.retention_ms + self.feedback_margin_ms

    @functools.cached_property
    def all_windows_ms(self) -> tuple[int, ...]:
        """Every count and sum window width, narrowest first."""
        return tuple(sorted(set(self.count_windows_ms.values()) | set(self.sum_windows_ms.values())))


def load(path: Path | str = DEFAULT_PATH) -> ScoringConfig:
    raw = yaml.safe_load(Path(path).read_text())
    day_ms = 86_400_000
    config = ScoringConfig(
        version=int(raw["version"]),
        alert_threshold=float(raw["decision"]["alert_threshold"]),
        retention_ms=int(raw["history"]["retention_days"]) * day_ms,
        max_entries=int(raw["history"]["max_entries"]),
        max_entries_used=int(raw["history"]["max_entries_used"]),
        feedback_margin_ms=int(raw["feedback"]["delay_margin_hours"]) * 3_600_000,
        feedback_windows_ms={f"{d}d": int(d) * day_ms for d in raw["feedback"]["windows_days"]},
        count_windows_ms={k: int(v) * 1000 for k, v in raw["features"]["count_windows"].items()},
        sum_windows_ms={k: int(v) * 1000 for k, v in raw["features"]["sum_windows"].items()},
        tiny_amount=float(raw["features"]["tiny_amount"]),
        night_hours=(int(raw["features"]["night_start_hour"]), int(raw["features"]["night_end_hour"])),
        model_uri=raw.get("model", {}).get("uri"),
        model_sha256=raw.get("model", {}).get("sha256"),
        model_threshold_policy=raw.get("model", {}).get("alert_threshold"),
        rules=tuple(
            Rule(r["code"], r["feature"], r["op"], float(r["threshold"]), float(r["weight"])) for r in raw["rules"]
        ),
    )
    _check(config)
    return config


def _check(config: ScoringConfig) -> None:
    if not 0 < config.alert_threshold <= 1:
        raise ValueError(f"alert_threshold must be in (0, 1], got {config.alert_threshold}")
    if config.retention_ms < config.longest_window_ms:
        raise ValueError("history.retention_days must cover the longest window")
    if max(config.feedback_windows_ms.values()) > config.longest_window_ms:
        raise ValueError(
            "feedback.windows_days may not exceed the longest feature window: the scorer keeps "
            "confirmed frauds only as long as card histories (feedback_keep_ms)"
        )
    if config.model_uri is not None and not (config.model_uri.startswith("s3://") or config.registered_model):
        raise ValueError(
            f"model.uri must be s3://bucket/prefix, models:/<name>@<alias> or models:/<name>/<version>, "
            f"got {config.model_uri!r}"
        )
    if config.model_threshold_policy not in (None, CAPACITY):
        raise ValueError(f"model.alert_threshold must be {CAPACITY!r} or null, got {config.model_threshold_policy!r}")
    if not 0 < config.max_entries_used < config.max_entries:
        raise ValueError("history.max_entries_used must be positive and below history.max_entries")
    windows = [f"card_tx_count_{name}" for name in config.count_windows_ms]
    windows += [f"card_amount_sum_{name}" for name in config.sum_windows_ms]
    if unknown := [name for name in windows if name not in FEATURES]:
        raise ValueError(f"windows without a feature column (see features.FEATURES): {', '.join(unknown)}")
    for rule in config.rules:
        if rule.feature not in FEATURES:
            raise ValueError(f"rule {rule.code}: unknown feature {rule.feature!r}")
        if rule.op not in OPERATORS:
            raise ValueError(f"rule {rule.code}: unknown operator {rule.op!r}")
        if not 0 <= rule.weight <= 1:
            raise ValueError(f"rule {rule.code}: weight must be in [0, 1]")
