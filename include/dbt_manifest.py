"""What the dbt graph (target/manifest.json) says about the marts DAG's tasks.

The marts DAG builds one model per task (`dbt build --select <model>`, indirect selection "buildable"):
each task runs the tests whose other parents are that model's ancestors. Two kinds of test belong to no
such task: tests on sources, and tests across models of which none is upstream of the others (e.g. a
relationship between two marts). `tests_outside_model_builds` names them, for a task of their own.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def tests_outside_model_builds(manifest: dict) -> list[str]:
    """Names of the tests that no single-model `dbt build` with buildable indirect selection runs."""
    parent_map: dict[str, list[str]] = manifest["parent_map"]

    @cache
    def ancestors(node: str) -> frozenset[str]:
        return frozenset().union(*({parent} | ancestors(parent) for parent in parent_map.get(node, [])))

    outside = []
    for test in manifest["nodes"].values():
        if test["resource_type"] != "test":
            continue
        parents = set(test["depends_on"]["nodes"])
        built_with = [model for model in parents if model.startswith("model.")
                      and parents - {model} <= ancestors(model)]
        if not built_with:
            outside.append(test["name"])
    return sorted(outside)
