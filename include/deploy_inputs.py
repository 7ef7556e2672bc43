"""What a deploy accepts from whoever triggers it (the deploy DAG's params), checked before anything is
stopped or submitted.

The deploy runs with the platform's credentials, so a param naming any file on the host, or any
directory Flink can read, would let a user who may trigger DAGs read or load what they should not:
- a scoring config is one of the versioned files in SCORING_CONFIG_DIR (include/scoring/*.yaml);
- a savepoint to start from lies under the platform's savepoint directory (FLINK_SAVEPOINT_DIR);
- a model version to score with is a version number of the registered model the config names.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from include import settings
from include.scoring.config import REGISTRY_URI

SCORING_CONFIG_DIR = settings.REPO_ROOT / "include" / "scoring"


class RefusedInput(ValueError):
    pass


def scoring_configs() -> list[Path]:
    return sorted(SCORING_CONFIG_DIR.glob("*.yaml"))


def scoring_config(given: str) -> Path:
    """`given` as one of scoring_configs(), by path or by file name; anything else is refused."""
    allowed = {path.resolve(): path for path in scoring_configs()}
    candidate = Path(given) if os.sep in given else SCORING_CONFIG_DIR / given
    resolved = candidate.resolve()
    if resolved not in allowed:
        names = ", ".join(path.name for path in allowed.values())
        raise RefusedInput(f"scoring_config {given!r} is not one of the versioned configs ({names})")
    return resolved


def savepoint(given: str) -> str:
    """`given` if it lies under FLINK_SAVEPOINT_DIR (same scheme, no `..`); anything else is refused."""
    root = settings.get("FLINK_SAVEPOINT_DIR").rstrip("/")
    root_url, url = urlsplit(root), urlsplit(given)
    parts = PurePosixPath(url.path).parts
    inside = (
        (url.scheme, url.netloc) == (root_url.scheme, root_url.netloc)
        and ".." not in parts
        and PurePosixPath(url.path).is_relative_to(PurePosixPath(root_url.path))
        and len(parts) > len(PurePosixPath(root_url.path).parts)
    )
    if url.scheme == "file" and inside:
        inside = Path(os.path.realpath(url.path)).is_relative_to(os.path.realpath(root_url.path))
    if not inside:
        raise RefusedInput(f"savepoint {given!r} is not under the platform's savepoint directory {root}")
    return given


def model_reference(version: int | None, configured_uri: str | None) -> str | None:
    """The registry reference a deploy pins: the config's own (`models:/fraud@champion`) without a
    `version`; with one (a rollback, say), that version of the model the config names."""
    if version is None:
        return configured_uri
    match = REGISTRY_URI.match(configured_uri or "")
    if not match:
        raise RefusedInput(f"model_version {version} given, but the scoring config names no registered model")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RefusedInput(f"model_version must be a version number, got {version!r}")
    return f"models:/{match['name']}/{version}"
