"""Rules: which signals fire for a transaction, with their values. They give the reasons of every score,
and the score itself when no model is configured (noisy-OR of the weights of the rules that fire)."""

from __future__ import annotations

from include.scoring.config import Rule


def fired(rules: tuple[Rule, ...], features: dict) -> list[Rule]:
    """The rules that fire, strongest first."""
    hits = [r for r in rules if r.fires(features.get(r.feature))]
    if len(hits) > 1:
        hits.sort(key=lambda r: -r.weight)
    return hits


def rule_score(fired_rules: list[Rule]) -> float:
    """1 - prod(1 - weight): each fired rule independently adds evidence; never above 1."""
    remaining = 1.0
    for rule in fired_rules:
        remaining *= 1.0 - rule.weight
    return 1.0 - remaining


def reasons(fired_rules: list[Rule], features: dict) -> list[dict]:
    return [
        {"code": r.code, "feature": r.feature, "value": _round(features.get(r.feature)), "threshold": r.threshold}
        for r in fired_rules
    ]


def _round(value):
    return round(value, 4) if isinstance(value, float) else value
